#!/usr/bin/perl
# faultmilter.pl - the MTA side of the milter protocol, driven into the
# corners tests/fault/run.sh needs: sessions cut off mid-message, 10,000
# recipients, a streamed 50 MB body, NUL and 8-bit bytes in every field.
# Usage: faultmilter.pl SOCKET MODE [ARG]; prints one line per answer and
# exits 0 when every answer was the expected one, 1 otherwise, 2 when the
# daemon closed the connection or did not answer within 30 s.
#   drop STAGE  send up to STAGE (mail, rcpt, header, body) and hang up
#   rcpts N     N recipients, every other one refused (550 5.1.1)
#   body MB     an MB-megabyte body in 64 KB packets; eom must say 552
#   bytes [helo] NUL, CR, LF, %, control and 8-bit bytes in helo, sender,
#               recipients, macros, header names and values; every reply
#               text must be one printable line
#   badconnect  a connect packet with NUL inside the host name
#   hold FILE   as ok, but waits after RCPT until FILE exists
#   ok          one clean message: every step continues
use strict;
use warnings;
use IO::Socket::UNIX;

my ($path, $mode, $arg) = @ARGV;
die "usage: $0 SOCKET MODE [ARG]\n" unless defined $mode;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path)
    or die "connect $path: $!\n";
$SIG{PIPE} = 'IGNORE';
my $bad = 0;
my $pflags = 0;		# the daemon's protocol flags (NR_*, NO*)

sub gone { print "$_[0]: connection closed by the daemon\n"; exit 2; }

sub send_cmd {
	my ($cmd, $data) = @_;
	$data = '' unless defined $data;
	my $pkt = pack('N', length($data) + 1) . $cmd . $data;
	my $off = 0;
	while ($off < length $pkt) {
		my $w = syswrite($s, $pkt, length($pkt) - $off, $off);
		return 0 unless defined $w;
		$off += $w;
	}
	return 1;
}

sub read_n {
	my ($n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		my $r = sysread($s, $buf, $n - length($buf), length($buf));
		return undef unless $r;
	}
	return $buf;
}

# reply: (command letter, data), or () when the daemon closed
sub reply {
	local $SIG{ALRM} = sub { print "timeout\n"; exit 2; };
	alarm 30;
	my $hdr = read_n(4);
	my $body = defined $hdr ? read_n(unpack('N', $hdr)) : undef;
	alarm 0;
	return () unless defined $body;
	return (substr($body, 0, 1), substr($body, 1));
}

# Per step: the flag that says "not sent" and the one that says "no reply".
my %skip = (C => 0x1, H => 0x2, M => 0x4, R => 0x8, B => 0x10, L => 0x20,
    N => 0x40, T => 0x200);
my %noreply = (C => 0x1000, H => 0x2000, M => 0x4000, R => 0x8000,
    T => 0x10000, N => 0x40000, B => 0x80000, L => 0x80);

# step WHAT CMD DATA [WANT]: send, read the answer, check its letter
# ('c' continue, 'y' reply code, ...); returns (letter, text)
sub step {
	my ($what, $cmd, $data, $want) = @_;
	return ('c', '') if $pflags & ($skip{$cmd} // 0);
	send_cmd($cmd, $data) or gone($what);
	return ('c', '') if $pflags & ($noreply{$cmd} // 0);
	my ($r, $text) = reply();
	gone($what) unless defined $r;
	check_text($what, $text) if $r eq 'y';
	if (defined $want && $r ne $want) {
		print "$what: reply $r, want $want\n";
		$bad = 1;
	}
	return ($r, $text);
}

# check_text: a reply text is one line of printable ASCII
sub check_text {
	my ($what, $text) = @_;
	$text =~ s/\0\z//;
	if ($text =~ /[^\x20-\x7e]/) {
		(my $shown = $text) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
		print "$what: unsafe reply text \"$shown\"\n";
		$bad = 1;
	}
}

sub macro { my ($stage, %kv) = @_; send_cmd('D', $stage . join('', map { "$_\0$kv{$_}\0" } sort keys %kv)) or gone('macro'); }

# eom: answers until the final one (modifications come first)
sub eom {
	my ($want) = @_;
	send_cmd('E') or gone('eom');
	for (;;) {
		my ($r, $text) = reply();
		gone('eom') unless defined $r;
		next if $r =~ /^[h+im\-qsbe]$/;
		check_text('eom', $text) if $r eq 'y';
		$text =~ s/\0\z//;
		print "eom: reply $r", ($r eq 'y' ? " $text" : ''), "\n";
		if (defined $want && $r ne $want) {
			print "eom: want $want\n";
			$bad = 1;
		}
		return ($r, $text);
	}
}

send_cmd('O', pack('NNN', 6, 0x1ff, 0x1fffff)) or gone('negotiate');
my ($neg, $ndata) = reply();
die "negotiation failed\n" unless defined $neg && $neg eq 'O';
$pflags = (unpack('NNN', $ndata))[2];

my $hostile = "a\0b\r\nc%s%n%%\x01\x7f\x80\xff";
# Macro values come from the MTA as C strings, so never hold a NUL; a
# packet with an odd count of strings crashes libmilter's own
# smfi_getsymval() (it walks past the list; see SECURITY.md).
(my $nonul = $hostile) =~ tr/\0//d;
if ($mode eq 'bytes') {
	macro('C', 'j' => "mx$nonul", '{daemon_name}' => "in$nonul",
	    '{daemon_port}' => "25$nonul", '_' => "h$nonul");
	# In the connect packet a NUL would end the host name early and
	# make the rest a broken address family: libmilter drops such a
	# connection itself (mode "badconnect").
	step('connect', 'C', "host$nonul\0" . '4' . pack('n', 25) .
	    "198.51.100.7\0");
	macro('H', '{tls_version}' => "TLS$nonul", '{cipher}' => $nonul);
	if (defined $arg && $arg eq 'helo') {
		# A HELO rule quoting ${helo} and ${client_name} in its reply,
		# which tollgate gives at MAIL.
		step('helo', 'H', "evil\r\n250-injected %s%n\x80\0", 'c');
		my ($r, $t) = step('helo', 'M', "<x\@example.net>\0", 'y');
		print "helo: $t\n";
		send_cmd('Q');
		exit $bad;
	}
	step('helo', 'H', "h$hostile\0", 'c');
	macro('M', 'i' => "QID$nonul", '{mail_addr}' => "x$nonul",
	    '{mail_host}' => "\x01\x80\r\n");
	# A sender the daemon cannot parse: 501 5.1.7; the client tries again.
	step('mail', 'M', "<x$hostile\@example.net>\0SIZE=1\x80\0", 'y');
	my ($r, $t) = step('mail 2', 'M', "<%s%n\@bad.example>\0", 'y');
	print "mail 2: $t\n";
	step('mail 3', 'M', "<x\@example.net>\0BODY=\xff\r\n\0", 'c');
	macro('R', '{rcpt_addr}' => "r$nonul");
	step('rcpt', 'R', "<r$hostile\@example.com>\0NOTIFY=\xff\0");
	# (A % in the local part would make it a routed address.)
	($r, $t) = step('rcpt 2', 'R', "<x~y\@nowhere.example>\0\x80\r\n\0",
	    'y');
	print "rcpt 2: $t\n";
	step('rcpt 3', 'R', "<bob\@example.com>\0", 'c');
	step('data', 'T');
	step('header', 'L', "X-$hostile\0v$hostile\0");
	step('header 2', 'L', "Subject\0$hostile\0");
	step('eoh', 'N');
	step('body', 'B', "body$hostile\r\n");
	eom();
} elsif ($mode eq 'badconnect') {
	# The connection is closed or the session goes on: either is fine,
	# as long as the daemon lives (run.sh checks).
	send_cmd('C', "host$hostile\0" . '4' . pack('n', 25) .
	    "198.51.100.7$hostile\0") or gone('connect');
	my ($r) = reply();
	print "connect: ", defined $r ? "reply $r" : "connection closed", "\n";
	exit 0;
} elsif ($mode eq 'drop') {
	step('connect', 'C', "client.example.net\0" . '4' . pack('n', 25) .
	    "198.51.100.7\0");
	step('helo', 'H', "client.example.net\0");
	step('mail', 'M', "<x\@example.net>\0") if $arg ne 'connect';
	step('rcpt', 'R', "<a\@example.com>\0") if $arg =~ /^(rcpt|header|body)$/;
	if ($arg =~ /^(header|body)$/) {
		step('data', 'T');
		# Half a packet: the length says more than ever comes.
		send_cmd('L', "Subject\0hello\0");
		syswrite($s, pack('N', 1000) . "LX-Cut\0") if $arg eq 'header';
	}
	if ($arg eq 'body') {
		step('eoh', 'N');
		send_cmd('B', 'x' x 60000);
		syswrite($s, pack('N', 65000) . 'B' . ('y' x 1000));
	}
	print "dropped after $arg\n";
	close $s;
	exit 0;
} else {
	step('connect', 'C', "client.example.net\0" . '4' . pack('n', 25) .
	    "198.51.100.7\0", 'c');
	step('helo', 'H', "client.example.net\0", 'c');
	step('mail', 'M', "<x\@example.net>\0", 'c');
	if ($mode eq 'rcpts') {
		my %n;
		for my $i (1 .. $arg) {
			my $to = $i % 2 ? "<u$i\@example.com>" :
			    "<u$i\@nowhere.example>";
			my ($r) = step("rcpt $i", 'R', "$to\0",
			    $i % 2 ? 'c' : 'y');
			$n{$r}++;
		}
		print "rcpts: ", join(' ', map { "$_=$n{$_}" } sort keys %n),
		    "\n";
	} else {
		step('rcpt', 'R', "<a\@example.com>\0", 'c');
	}
	if ($mode eq 'hold') {
		# Mid-message until run.sh creates the file $arg.
		$| = 1;
		print "held\n";
		my $n = 0;
		select(undef, undef, undef, 0.05) while !-e $arg && $n++ < 1200;
	}
	step('data', 'T', undef, 'c');
	step('header', 'L', "Subject\0fault test\0", 'c');
	step('eoh', 'N', undef, 'c');
	if ($mode eq 'body') {
		my $chunk = ('z' x 998 . "\r\n") x 65;	# 65,000 bytes
		my $total = $arg * 1024 * 1024;
		my $sent = 0;
		while ($sent < $total) {
			my $c = $total - $sent < length $chunk ?
			    substr($chunk, 0, $total - $sent) : $chunk;
			step('body', 'B', $c, 'c');
			$sent += length $c;
		}
		print "body: $sent bytes\n";
		my ($r, $text) = eom('y');
		if ($text !~ /^552 5\.3\.4 /) {
			print "eom: want 552 5.3.4\n";
			$bad = 1;
		}
	} else {
		step('body', 'B', "Hello.\r\n", 'c');
		eom('c');
	}
}
send_cmd('Q');
print $bad ? "FAILED\n" : "all answers as expected\n";
exit $bad;
