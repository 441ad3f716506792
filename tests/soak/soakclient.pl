#!/usr/bin/perl
# soakclient.pl - one MTA-side milter client for tests/soak/run.sh: opens
# session after session on SOCKET until SECONDS have passed, each with a
# message to two recipients (one refused, 550 5.1.1), and checks every
# answer. Prints "sessions=N accepted=N wrong=N dropped=N"; exits 0 when
# no answer was wrong and no connection dropped.
# Usage: soakclient.pl SOCKET SECONDS
use strict;
use warnings;
use IO::Socket::UNIX;

my ($path, $secs) = @ARGV;
die "usage: $0 SOCKET SECONDS\n" unless defined $secs;
$SIG{PIPE} = 'IGNORE';
my ($s, $pflags, $data);
my %n = (sessions => 0, accepted => 0, wrong => 0, dropped => 0);

sub out {
	my ($cmd, $data) = @_;
	$data = '' unless defined $data;
	my $pkt = pack('N', length($data) + 1) . $cmd . $data;
	return defined syswrite($s, $pkt) ? 1 : 0;
}

sub in {
	my $buf = '';
	my $want = 4;
	my $len;
	local $SIG{ALRM} = sub { die "timeout\n" };
	alarm 60;
	while (length($buf) < $want) {
		my $r = sysread($s, $buf, $want - length($buf), length($buf));
		last unless $r;
		if (!defined $len && length($buf) == 4) {
			$len = unpack('N', $buf);
			$want = 4 + $len;
		}
	}
	alarm 0;
	return undef if length($buf) < $want || !defined $len;
	$data = substr($buf, 5);
	return substr($buf, 4, 1);
}

my %skip = (C => 0x1, H => 0x2, M => 0x4, R => 0x8, B => 0x10, L => 0x20,
    N => 0x40, T => 0x200);
my %noreply = (C => 0x1000, H => 0x2000, M => 0x4000, R => 0x8000,
    T => 0x10000, N => 0x40000, B => 0x80000, L => 0x80);

# ask CMD DATA WANT: 1 when the answer is WANT, 0 wrong, undef dropped
sub ask {
	my ($cmd, $data, $want) = @_;
	return 1 if $pflags & ($skip{$cmd} // 0);
	out($cmd, $data) or return undef;
	return 1 if $pflags & ($noreply{$cmd} // 0);
	my $r = in();
	return undef unless defined $r;
	print STDERR "$cmd: got $r, want $want\n"
	    if $r ne $want && $ENV{SOAK_DEBUG};
	return $r eq $want ? 1 : 0;
}

sub session {
	my ($i) = @_;
	$s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path)
	    or return undef;
	out('O', pack('NNN', 6, 0x1ff, 0x1fffff)) or return undef;
	my $r = in();
	return undef unless defined $r && $r eq 'O';
	$pflags = (unpack('NNN', $data))[2];	# steps not sent/answered
	my @steps = (
	    ['C', "c$i.example.net\0" . '4' . pack('n', 25) . "198.51.100." .
		($i % 250 + 1) . "\0", 'c'],
	    ['H', "c$i.example.net\0", 'c'],
	    ['M', "<s$i\@example.net>\0", 'c'],
	    ['R', "<r$i\@example.com>\0", 'c'],
	    ['R', "<r$i\@nowhere.example>\0", 'y'],
	    ['T', '', 'c'],
	    ['L', "Subject\0soak $i\0", 'c'],
	    ['N', '', 'c'],
	    ['B', scalar(("x" x 78 . "\r\n") x 20), 'c'],
	    ['E', '', 'c'],
	);
	for my $st (@steps) {
		my $ok = ask(@$st);
		return $ok unless defined $ok && $ok;
	}
	out('Q');
	close $s;
	return 2;	# accepted
}

my $end = time + $secs;
my $i = $$ * 1000;
while (time < $end) {
	$n{sessions}++;
	my $r = eval { session($i++) };
	if (!defined $r) { $n{dropped}++ }
	elsif ($r == 0) { $n{wrong}++ }
	elsif ($r == 2) { $n{accepted}++ }
	close $s if defined $s;
}
print join(' ', map { "$_=$n{$_}" } qw(sessions accepted wrong dropped)),
    "\n";
exit($n{wrong} || $n{dropped} ? 1 : 0);
