#!/usr/bin/perl
# relayclient.pl - the refused share of tests/soak/postfix.tap's load:
# CLIENTS forked SMTP clients open session after session to HOST:PORT
# until SECONDS have passed, each trying to relay to RCPT, which the
# policy refuses. smtp-source cannot do this (a refused recipient is fatal
# to it). A refusal other than WANT (e.g. "554 5.7.1"), or a recipient
# accepted, is a wrong verdict; a 4xx at any step (tollgate killed) is
# counted apart. Prints "sessions=N refused=N tempfail=N wrong=N
# dropped=N" summed over the clients.
# Usage: relayclient.pl HOST:PORT SECONDS CLIENTS RCPT WANT
use strict;
use warnings;
use IO::Socket::INET;

my ($peer, $secs, $clients, $rcpt, $want) = @ARGV;
die "usage: $0 HOST:PORT SECONDS CLIENTS RCPT WANT\n" unless defined $want;
$SIG{PIPE} = 'IGNORE';
my $end = time + $secs;
my @keys = qw(sessions refused tempfail wrong dropped);

# reply SOCKET - the last line of a (multi-line) reply, or undef
sub reply {
	my ($s) = @_;
	my $l;
	local $SIG{ALRM} = sub { die "timeout\n" };
	alarm 120;
	do {
		$l = <$s>;
	} while (defined $l && $l =~ /^\d{3}-/);
	alarm 0;
	$l =~ s/\r?\n\z// if defined $l;
	return $l;
}

# session - one relay attempt; the outcome's key
sub session {
	my $s = IO::Socket::INET->new(PeerAddr => $peer, Timeout => 60)
	    or return 'dropped';
	my $r = reply($s);
	my $out;
	for my $cmd ('EHLO relay.example.net', 'MAIL FROM:<soak@example.net>',
	    "RCPT TO:<$rcpt>") {
		last if !defined $r || $r !~ /^2/;
		print $s "$cmd\r\n";
		$r = reply($s);
	}
	if (!defined $r) {
		$out = 'dropped';
	} elsif ($r =~ /^4/) {
		$out = 'tempfail';
	} elsif (index($r, $want) == 0) {
		$out = 'refused';
	} else {
		print STDERR "relayclient: wrong verdict: $r\n";
		$out = 'wrong';
	}
	print $s "QUIT\r\n";
	close $s;
	return $out;
}

my @kids;
for (1 .. $clients) {
	pipe(my $rd, my $wr) or die "pipe: $!\n";
	my $pid = fork;
	die "fork: $!\n" unless defined $pid;
	if ($pid == 0) {
		$SIG{TERM} = $SIG{INT} = 'DEFAULT';
		close $rd;
		my %n = map { $_ => 0 } @keys;
		while (time < $end) {
			my $o = eval { session() } || 'dropped';
			$n{$o}++;
			$n{sessions}++;
		}
		print $wr join(' ', map { "$_=$n{$_}" } @keys), "\n";
		exit 0;
	}
	close $wr;
	push @kids, [$pid, $rd];
}
# Stopped early (the test failed or was interrupted): so are the clients.
$SIG{TERM} = $SIG{INT} = sub {
	kill 'TERM', map { $_->[0] } @kids;
	exit 1;
};
my %t = map { $_ => 0 } @keys;
for my $k (@kids) {
	my $fh = $k->[1];
	my $l = <$fh> // '';
	$t{$1} += $2 while $l =~ /(\w+)=(\d+)/g;
	waitpid($k->[0], 0);
}
print join(' ', map { "$_=$t{$_}" } @keys), "\n";
exit 0;
