#!/bin/sh
# dkimkeys.sh KEYDIR TABLEDIR ZONES_IN ZONES_OUT - DKIM keys of example.org
# for a test run (a key kept in the tree could not keep mode 0600, which
# tollgate demands): KEYDIR/rsa.pem (selector tg1) and KEYDIR/ed.pem (tg2),
# mode 0600, owned by whoever runs this (the caller chowns them for a
# daemon that drops privileges); the key and signing tables policy.conf.in
# names (TABLEDIR/dkim.keys, dkim.signers); ZONES_IN with the two public
# key records added, as ZONES_OUT. Used by lib.sh (the MTA suites) and
# tests/replay/mta.sh (tollgate-test on the same policy).
set -u
[ $# -eq 4 ] || { echo "usage: dkimkeys.sh KEYDIR TABLEDIR ZONES_IN ZONES_OUT" >&2; exit 2; }
keys=$1 tables=$2 zin=$3 zout=$4

mkdir -p "$keys" "$tables" || exit 1
(umask 077 &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$keys/rsa.pem" 2>/dev/null &&
    openssl genpkey -algorithm ED25519 -out "$keys/ed.pem" 2>/dev/null) || {
	echo "dkimkeys.sh: openssl genpkey failed" >&2
	exit 1
}
chmod 600 "$keys/rsa.pem" "$keys/ed.pem"
rsa=$(openssl pkey -in "$keys/rsa.pem" -pubout -outform DER |
    base64 -w0 | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' ')
ed=$(openssl pkey -in "$keys/ed.pem" -pubout -outform DER |
    tail -c 32 | base64 -w0)
{
	cat "$zin"
	printf "\tlocal-data: 'tg1._domainkey.example.org. TXT \"v=DKIM1; k=rsa; p=\" %s'\n" "$rsa"
	printf "\tlocal-data: 'tg2._domainkey.example.org. TXT \"v=DKIM1; k=ed25519; p=%s\"'\n" "$ed"
} >"$zout" || exit 1
printf 'rsa example.org:tg1:%s\ned example.org:tg2:%s\n' \
    "$keys/rsa.pem" "$keys/ed.pem" >"$tables/dkim.keys" &&
printf '*@example.org rsa\n*@example.org ed\n' >"$tables/dkim.signers"
