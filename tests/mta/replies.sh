# replies.sh - sourced by lib.sh and tests/replay/mta.sh: the replies of
# SMTP sessions in one comparable form, one line per command,
#     SCENARIO STEP REPLY
# STEP being ehlo, auth, mail, rcpt, data (the DATA command), eom (the
# end of the message) or rset; REPLY the code for 2xx and 3xx replies
# (their text is the MTA's own: a queue id, a host name) and the whole
# line for 4xx and 5xx ones. The banner and QUIT are left out, and so is
# what came before an XCLIENT (the session then starts over as another
# client). From a transcript of swaks or dialog.pl (what the MTA
# answered), and from the output of tollgate-test (what it says the client
# would see), so that the two can be compared line by line.

# replies_transcript SCENARIO FILE - the replies of one transcript
replies_transcript() {
	awk -v sc="$1" '
	function flush() { for (i = 1; i <= n; i++) print sc, out[i] }
	/^ [-~]> / {
		c = toupper(substr($0, 5))
		if (c ~ /^(EHLO|HELO)/) s = "ehlo"
		else if (c ~ /^AUTH/) s = "auth"
		else if (c ~ /^MAIL FROM/) s = "mail"
		else if (c ~ /^RCPT TO/) s = "rcpt"
		else if (c ~ /^DATA/) s = "data"
		else if (c ~ /^[0-9]+ LINES SENT|^\.$/) s = "eom"
		else if (c ~ /^RSET/) s = "rset"
		else if (c ~ /^XCLIENT/) { n = 0; s = "" }
		else s = ""
		got = 0
		next
	}
	/^<(-|\*\*) +[0-9][0-9][0-9][ -]/ {
		if (s == "" || got) next
		got = 1
		r = $0
		sub(/^<(-|\*\*) +/, "", r)
		sub(/\r$/, "", r)
		out[++n] = s " " (r ~ /^[45]/ ? r : substr(r, 1, 3))
	}
	END { flush() }' "$2"
}

# replies_tool - the output of tollgate-test (not -q) on stdin; a
# session named "NAME" or "NAME N" belongs to scenario NAME
replies_tool() {
	awk '
	/^[^ ].*:[0-9]+: session / {
		sc = $0
		sub(/^.*:[0-9]+: session /, "", sc)
		sub(/ .*/, "", sc)
		next
	}
	/^[^ ].*:[0-9]+: / && / \[[^]]*\]$/ {
		l = $0
		sub(/^[^ ]*:[0-9]+: /, "", l)
		sub(/ \[[^]]*\]$/, "", l)
		while (l ~ /^\[[^]]*\] /)
			sub(/^\[[^]]*\] /, "", l)
		if (!match(l, /: [2-5][0-9][0-9]( |$)/))
			next
		what = substr(l, 1, RSTART - 1)
		r = substr(l, RSTART + 2)
		split(what, w, " ")
		s = tolower(w[1])
		if (s == "helo") s = "ehlo"
		else if (s == ".") s = "eom"
		if (s !~ /^(ehlo|auth|mail|rcpt|data|eom|rset)$/)
			next
		print sc, s, (r ~ /^[45]/ ? r : substr(r, 1, 3))
	}'
}

# replies_compare MTA TOOL - for every scenario in the file MTA (lines
# starting with # are comments), its lines
# in the file TOOL must be the same; prints a diff per scenario that
# differs (and, for each, "- MTA" and "+ tollgate-test"), returns 1 then
replies_compare() {
	_rc_st=0
	for _rc_sc in $(awk '!/^#/ { print $1 }' "$1" | uniq); do
		awk -v s="$_rc_sc" '$1 == s' "$1" >"$1.one"
		awk -v s="$_rc_sc" '$1 == s' "$2" >"$2.one"
		if ! diff -u "$1.one" "$2.one" >"$1.diff"; then
			echo "scenario $_rc_sc: the MTA (-) and tollgate-test (+)" \
			    "differ:"
			tail -n +3 "$1.diff"
			_rc_st=1
		fi
	done
	rm -f "$1.one" "$2.one" "$1.diff"
	return $_rc_st
}
