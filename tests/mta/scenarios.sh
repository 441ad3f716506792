# scenarios.sh - the scenario list that tests/mta/postfix.tap and
# sendmail.tap both run (sourced after lib.sh), against policy.conf.in.
#
# A scenario is a registration line and a function sc_NAME (dashes become
# underscores). It runs SMTP sessions with smtp (swaks) or dialog
# (dialog.pl: SIZE=, sessions held open), then checks what the client saw
# and what reached the sink:
#   expect STEP CODE [ENH [TEXT]]   reply at banner|ehlo|auth|mail|rcpt|data
#                                   |eom|fail (the first 4xx/5xx); rcpt3,
#                                   mail2: the Nth of that kind
#   delivered RCPT...               the message reached the sink for exactly
#                                   these recipients (nothing = not at all
#                                   is checked at the end for every message)
#   header "Name: value", header_match REGEX,
#   no_header Name
# Set skip_why to skip a scenario on one MTA (say why). The listeners are
# "mx" (any client) and "submission" (SMTP AUTH offered). The client is
# 127.0.0.1 (untrusted) unless bound to 127.0.0.2 (trusted.cidr) or
# 127.0.0.3 (listed in bl.test), or seen as 198.51.100.7 or .9 with
# smtp_as (XCLIENT with Postfix, the run's client network with Sendmail:
# lib.sh, clientnet.sh; no_client_as says why neither works). DNS answers
# come from the test's unbound (unbound.zones). Accounts (sasldb, made by
# the MTA script): alice@example.org / alice-pw, dave@example.org / dave-pw
# (rate-limit only).

scenario clean "clean mail to a local domain is accepted, delivered, stamped"
sc_clean() {
	smtp mx --to bob@example.org
	expect mail 250
	expect rcpt 250
	expect eom 250
	delivered bob@example.org
	header "X-Tollgate-Test: v1 mx"
	header "X-Tollgate-Macros: listener and client known"
	# The SPF result header, through both MTAs (the result itself is
	# checked by spf-pass and spf-fail).
	header_match "^Authentication-Results: mx\.tollgate\.test; spf="
	no_header X-Tollgate-Tag
}

scenario relay-refused "relay refused for an untrusted, unauthenticated client"
sc_relay_refused() {
	smtp mx --to carol@example.net
	expect rcpt 554 5.7.1 "Relay access denied"
}

scenario relay-trusted "relay allowed for a client in trusted_networks"
sc_relay_trusted() {
	smtp mx --local-interface 127.0.0.2 --to carol@example.net
	expect rcpt 250
	expect eom 250
	delivered carol@example.net
	header "X-Tollgate-Test: v1 mx"
}

scenario relay-auth "relay allowed after SMTP AUTH PLAIN on submission (as oneself)"
sc_relay_auth() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password alice-pw --from alice@example.org \
	    --to carol@example.net
	expect auth 235
	expect rcpt 250
	expect eom 250
	delivered carol@example.net
	header "X-Tollgate-Test: v1 submission"
}

scenario sender-not-owned "a logged-in user sending as another: 553 at MAIL"
sc_sender_not_owned() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password alice-pw --from bob@example.org \
	    --to carol@example.net
	expect auth 235
	expect mail 553 5.7.1 \
	    "Sender address rejected: not owned by user alice@example.org"
}

scenario from-not-owned "a logged-in user with another's From: gets 553 at end of data"
sc_from_not_owned() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password alice-pw --from alice@example.org \
	    --header "From: Bob <bob@example.org>" --to carol@example.net
	expect mail 250
	expect eom 553 5.7.1 \
	    "From address rejected: not owned by user alice@example.org"
}

scenario auth-wrong-password "a wrong password is refused by the MTA (535)"
sc_auth_wrong_password() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password wrong --from alice@example.org \
	    --to carol@example.net
	expect auth 535
}

scenario submission-unauth "unauthenticated mail on submission refused (530)"
sc_submission_unauth() {
	smtp submission --to bob@example.org
	expect mail 530 5.7.0 "Authentication required"
}

scenario size-declared "SIZE= above the limit refused at MAIL (552), below it passes"
sc_size_declared() {
	dialog mx "EHLO client.example.net" \
	    "MAIL FROM:<tester@example.net> SIZE=40000" \
	    "RSET" "MAIL FROM:<tester@example.net> SIZE=1000"
	expect mail 552 5.3.4 "Message too big"
	expect mail2 250
}

scenario size-real "a message above the limit refused at end of data (552)"
sc_size_real() {
	dialog mx "EHLO client.example.net" "MAIL FROM:<tester@example.net>" \
	    "RCPT TO:<bob@example.org>" "@data 40000"
	expect rcpt 250
	expect data 354
	expect eom 552 5.3.4 "Message too big"
}

scenario too-many-rcpts "recipients over the limit get 452, the others get the mail"
sc_too_many_rcpts() {
	smtp mx --to r1@example.org,r2@example.org,r3@example.org,r4@example.org,r5@example.org
	expect rcpt3 250
	expect rcpt4 452 4.5.3 "Too many recipients"
	expect rcpt5 452 4.5.3 "Too many recipients"
	expect eom 250
	delivered r1@example.org r2@example.org r3@example.org
}

scenario add-header "add-header rules are visible in the delivered message"
sc_add_header() {
	smtp mx --to bob@example.org --header "Subject: [ad] cheap tickets"
	expect eom 250
	delivered bob@example.org
	header "X-Tollgate-Test: v1 mx"
	header "X-Tollgate-Tag: advert from tester@example.net"
}

scenario rate-limit "a login's 4th message in an hour gets 450, the first 3 arrive"
sc_rate_limit() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	for _ in 1 2 3; do
		smtp submission --auth PLAIN --auth-user dave@example.org \
		    --auth-password dave-pw --from dave@example.org \
		    --to carol@example.net
		expect auth 235
		expect eom 250
		delivered carol@example.net
	done
	smtp submission --auth PLAIN --auth-user dave@example.org \
	    --auth-password dave-pw --from dave@example.org \
	    --to carol@example.net
	expect rcpt 250
	expect eom 450 4.7.1 \
	    "Message rate limit exceeded for dave@example.org"
	# Another login is not held by dave's quota.
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password alice-pw --from alice@example.org \
	    --to carol@example.net
	expect eom 250
	delivered carol@example.net
}

scenario dnsbl "a client in the DNS block list is refused with the list's reason"
sc_dnsbl() {
	smtp mx --local-interface 127.0.0.3 --to bob@example.org
	expect fail 554 5.7.1 \
	    "Client [127.0.0.3] blocked using bl: Listed, see http://bl.test/127.0.0.3"
}

scenario no-rdns "a client without reverse DNS: 550 5.7.25"
sc_no_rdns() {
	[ -n "$no_client_as" ] && { skip_why=$no_client_as; return; }
	smtp_as 198.51.100.9 mx --to bob@example.org
	expect fail 550 5.7.25 \
	    "Client host rejected: cannot find your reverse hostname, [198.51.100.9]"
}

scenario helo-not-fqdn "a HELO name that is not fully qualified: 504"
sc_helo_not_fqdn() {
	smtp mx --helo localhost --to bob@example.org
	# Both MTAs answer EHLO with 250 (and few extensions) and give a
	# milter's HELO reject at the next command, MAIL.
	expect ehlo 250
	expect mail 504 5.5.2 \
	    "Helo command rejected: need fully-qualified hostname"
}

scenario helo-again "a refused EHLO, then a good one: judged afresh, the mail passes"
sc_helo_again() {
	# RFC 5321 4.1.4: a new EHLO starts the session over; the refusal
	# of the first name must not stick to the connection.
	dialog mx "EHLO localhost" "MAIL FROM:<tester@example.net>" \
	    "EHLO client.example.net" "MAIL FROM:<tester@example.net>" \
	    "RCPT TO:<bob@example.org>" "@data 100"
	expect ehlo 250
	expect mail 504 5.5.2 \
	    "Helo command rejected: need fully-qualified hostname"
	expect ehlo2 250
	expect mail2 250
	expect rcpt 250
	expect eom 250
	delivered bob@example.org
}

scenario helo-worse "a good EHLO, then a bad one: the second name is refused"
sc_helo_worse() {
	dialog mx "EHLO client.example.net" "EHLO localhost" \
	    "MAIL FROM:<tester@example.net>"
	expect ehlo 250
	expect ehlo2 250
	expect mail 504 5.5.2 \
	    "Helo command rejected: need fully-qualified hostname"
}

# The test records name 198.51.100.7 (the SPF scenarios make the MTA see
# the client so, smtp_as); loopback clients' records are evaluated like
# any other's (libspf2's "localhost is always allowed" is bypassed).
scenario spf-fail "SPF fail for the envelope sender: 550 5.7.23 at MAIL"
sc_spf_fail() {
	[ -n "$no_client_as" ] && { skip_why=$no_client_as; return; }
	smtp_as 198.51.100.7 mx --from pat@spf-fail.test \
	    --to bob@example.org
	expect mail 550 5.7.23 "SPF validation failed for <pat@spf-fail.test>"
}

scenario spf-pass "SPF pass: accepted, Authentication-Results and Received-SPF added"
sc_spf_pass() {
	[ -n "$no_client_as" ] && { skip_why=$no_client_as; return; }
	smtp_as 198.51.100.7 mx --from pat@spf-pass.test \
	    --to bob@example.org
	expect mail 250
	expect eom 250
	delivered bob@example.org
	header "Authentication-Results: mx.tollgate.test; spf=pass\
 smtp.mailfrom=pat@spf-pass.test; dkim=none; dmarc=none\
 header.from=spf-pass.test"
	header_match "^Received-SPF: pass .*client-ip=198\.51\.100\.7;"
}

scenario attachment-exe "an .exe attachment is refused at end of data (554)"
sc_attachment_exe() {
	printf 'MZ not really a program\n' >"$dir/setup.exe"
	smtp mx --to bob@example.org --attach "@$dir/setup.exe"
	expect eom 554 5.7.1 "Executable attachments are not accepted"
}

scenario header-twice "two Subject headers: 554 5.6.0 at end of data"
sc_header_twice() {
	smtp mx --to bob@example.org --add-header "Subject: a second subject"
	expect eom 554 5.6.0 "Message has more than one Subject header"
}

scenario attachment-double-ext "a double extension (invoice.pdf.exe): 554"
sc_attachment_double_ext() {
	smtp mx --to bob@example.org --attach-name invoice.pdf.exe \
	    --attach "MZ not really a program"
	expect eom 554 5.7.1 "Double extension attachment refused"
}

scenario attachment-clean "a clean attachment (report.pdf) is delivered"
sc_attachment_clean() {
	printf '%%PDF-1.4 not really a document\n' >"$dir/report.pdf"
	smtp mx --to bob@example.org --attach-type application/pdf \
	    --attach "@$dir/report.pdf"
	expect eom 250
	delivered bob@example.org
	header "X-Tollgate-Test: v1 mx"
}

# Greylisting (issue 16): policy.conf.in greylists grey*@example.org for
# 2 s. The test re-sends the message after the delay, as the sending MTA
# would retry it from its queue.
scenario greylist-retry "greylisting: the first attempt gets 451 4.7.1, the retry after the delay is delivered"
sc_greylist_retry() {
	smtp mx --to grey1@example.org
	expect rcpt 451 4.7.1 "Greylisted, please try again in 2 seconds"
	smtp mx --to grey1@example.org
	expect rcpt 451 4.7.1 "Greylisted, please try again in"
	sleep 2.5
	smtp mx --to grey1@example.org
	expect rcpt 250
	expect eom 250
	delivered grey1@example.org
}

scenario greylist-same-net "greylisting: another client of the same /24 passes; another sender does not"
sc_greylist_same_net() {
	# After greylist-retry: 127.0.0.2 is in 127.0.0.1's /24.
	smtp mx --local-interface 127.0.0.2 --to grey1@example.org
	expect rcpt 250
	expect eom 250
	delivered grey1@example.org
	smtp mx --local-interface 127.0.0.2 --from other@example.net \
	    --to grey1@example.org
	expect rcpt 451 4.7.1 "Greylisted"
}

scenario greylist-partial "greylisting one recipient of two: the other gets the mail now"
sc_greylist_partial() {
	smtp mx --to bob@example.org,grey2@example.org
	expect rcpt1 250
	expect rcpt2 451 4.7.1 "Greylisted, please try again in 2 seconds"
	expect eom 250
	delivered bob@example.org
}

scenario greylist-auth "greylisting: a logged-in user is never greylisted"
sc_greylist_auth() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password alice-pw --from alice@example.org \
	    --to grey3@example.org
	expect auth 235
	expect rcpt 250
	expect eom 250
	delivered grey3@example.org
}

scenario reload-broken "a broken policy reloaded mid-session: the old one stays"
sc_reload_broken() {
	dialog_bg mx "EHLO client.example.net" "MAIL FROM:<tester@example.net>" \
	    "RCPT TO:<bob@example.org>" @wait \
	    "RCPT TO:<carol@example.net>" "@data 100" || return
	cp "$mta_src/broken.conf" "$policy"
	tg_reload || fail "tollgate logged no reload"
	grep -q 'reload failed' "$dir/tg/log" || fail "the reload did not fail"
	dialog_resume
	expect rcpt1 250
	expect rcpt2 554 5.7.1 "Relay access denied"
	expect eom 250
	delivered bob@example.org
	header "X-Tollgate-Test: v1 mx"
	# A new session after the failed reload: still the old policy.
	smtp mx --to carol@example.net
	expect rcpt 554 5.7.1 "Relay access denied"
	kill -0 "$pid_tg" 2>/dev/null || fail "tollgate is gone"
	cp "$policy_orig" "$policy"
}

scenario tollgate-down "tollgate stopped mid-session: the MTA answers 4xx, delivers nothing"
sc_tollgate_down() {
	dialog_bg mx "EHLO client.example.net" "MAIL FROM:<tester@example.net>" \
	    "RCPT TO:<bob@example.org>" @wait "@data 100" || return
	tg_stop tg
	dialog_resume
	expect rcpt 250
	expect fail "$DOWN_CODE" "$DOWN_ENH"
	# A new session while tollgate is down.
	smtp mx --to bob@example.org
	expect fail "$DOWN_CODE" "$DOWN_ENH"
	tollgate_start
	# And back to normal.
	smtp mx --to bob@example.org
	expect eom 250
	delivered bob@example.org
}

# DKIM and DMARC (issue 17). The submission listener signs alice's mail
# (rsa-sha256 and ed25519-sha256, keys made by lib.sh); the message as the
# sink got it is sent again to the MX, which verifies both signatures
# and DMARC (example.org: p=reject) and says so in Authentication-Results.
scenario dkim-sign-verify "submission signs (RSA and Ed25519); the MX verifies: dkim=pass, dmarc=pass"
sc_dkim_sign_verify() {
	[ -n "$no_auth" ] && { skip_why=$no_auth; return; }
	smtp submission --auth PLAIN --auth-user alice@example.org \
	    --auth-password alice-pw --from alice@example.org \
	    --to bob@example.org
	expect eom 250
	delivered bob@example.org
	header_match "^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example\.org; s=tg1;"
	header_match "^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example\.org;"
	signed=$(sink_files | head -n 1)
	[ -n "$signed" ] || return
	cp "$signed" "$dir/signed.eml"
	resend mx "$dir/signed.eml" --from alice@example.org \
	    --to bob@example.org
	expect eom 250
	delivered bob@example.org
	header_match "^Authentication-Results: mx\.tollgate\.test; spf=none .*; dkim=pass header\.d=example\.org header\.s=tg[12] header\.b=[^;]*; dkim=pass header\.d=example\.org header\.s=tg[12] header\.b=[^;]*; dmarc=pass \(p=reject sp=reject pct=100\) header\.from=example\.org$"
}

scenario dmarc-reject "a tampered message from a p=reject domain: 550 5.7.1 at end of data"
sc_dmarc_reject() {
	[ -f "$dir/signed.eml" ] || { skip_why="no signed message (dkim-sign-verify)"; return; }
	sed 's/^This is a test mailing/This is a tampered mailing/' \
	    "$dir/signed.eml" >"$dir/tampered.eml"
	cmp -s "$dir/signed.eml" "$dir/tampered.eml" &&
	    { fail "the body was not changed"; return; }
	resend mx "$dir/tampered.eml" --from alice@example.org \
	    --to bob@example.org
	expect eom 550 5.7.1 \
	    "Message rejected: it fails the DMARC policy of example.org"
}

scenario dmarc-quarantine "unsigned mail from a p=quarantine domain lands in the MTA's quarantine"
sc_dmarc_quarantine() {
	smtp mx --from q@quarantine.test --to bob@example.org
	expect eom 250
	held
}

