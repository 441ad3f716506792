#!/usr/bin/perl
# rawmilter.pl - a minimal MTA side of the milter protocol, for input
# miltertest cannot send (it copies header fields into a 1 KB buffer and
# stops at NUL bytes). Usage: rawmilter.pl SOCKET MODE, MODE one of
#   bighdr  a 1 MB header value (larger than libmilter accepts)
#   nulhdr  a header value with NUL, CR, LF and 8-bit bytes
# Exits 0 when the daemon answered every command or closed the
# connection cleanly, 1 on a protocol error or a timeout.
use strict;
use warnings;
use IO::Socket::UNIX;

my ($path, $mode) = @ARGV;
die "usage: $0 SOCKET MODE\n" unless defined $mode;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path)
    or die "connect $path: $!\n";

sub send_cmd {
	my ($cmd, $data) = @_;
	$data = '' unless defined $data;
	my $pkt = pack('N', length($data) + 1) . $cmd . $data;
	local $SIG{PIPE} = 'IGNORE';
	return defined syswrite($s, $pkt);
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

# reply: the reply command letter, or undef when the daemon closed
sub reply {
	local $SIG{ALRM} = sub { die "timeout\n" };
	alarm 10;
	my $hdr = read_n(4);
	my $r;
	if (defined $hdr) {
		my $body = read_n(unpack('N', $hdr));
		$r = substr($body, 0, 1) if defined $body;
	}
	alarm 0;
	return $r;
}

sub step {
	my ($what, $cmd, $data) = @_;
	if (!send_cmd($cmd, $data)) {
		print "$what: connection closed by the daemon\n";
		exit 0;
	}
	my $r = reply();
	if (!defined $r) {
		print "$what: connection closed by the daemon\n";
		exit 0;
	}
	print "$what: reply $r\n";
	return $r;
}

# Offer protocol version 6, every action, every step.
send_cmd('O', pack('NNN', 6, 0x1ff, 0));
my $neg = reply();
die "negotiation failed\n" unless defined $neg && $neg eq 'O';
step('connect', 'C', "client.example.net\0" . '4' . pack('n', 25) .
    "198.51.100.7\0");
step('helo', 'H', "client.example.net\0");
step('mail', 'M', "<x\@example.net>\0");
step('rcpt', 'R', "<alice\@example.com>\0");
step('data', 'T');
if ($mode eq 'bighdr') {
	step('header', 'L', "Subject\0" . ('z' x (1024 * 1024)) . "\0");
} elsif ($mode eq 'nulhdr') {
	step('header', 'L', "Subject\0a\0b\r\nc\x80\xff\0");
} else {
	die "unknown mode $mode\n";
}
step('eoh', 'N');
step('body', 'B', "Hello.\r\n");
my $r = send_cmd('E') ? reply() : undef;
print "eom: ", defined $r ? "reply $r" : "connection closed", "\n";
send_cmd('Q');
exit 0;
