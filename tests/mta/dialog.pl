#!/usr/bin/perl
# dialog.pl - a scripted SMTP client for what swaks cannot do: MAIL FROM
# with SIZE=, and a session held open while the test changes the world
# (reloads or stops tollgate). It prints a transcript in swaks' format
# (" -> command", "<-  reply") so lib.sh reads both the same way.
#
# Usage: dialog.pl [-b BINDADDR] HOST:PORT STEP...
#   "TEXT"            send the command TEXT and read the reply
#   "@data ID BYTES"  DATA; when the reply is 354, a message with the header
#                     X-Test-Id: ID and about BYTES bytes of body, then "."
#   "@wait FILE"      create FILE.paused, wait until FILE exists (the test
#                     does its work in between), then go on
# QUIT is sent after the last step. Exit 0 when the dialogue ran (whatever
# the replies), 1 on a connection error or time-out.
use strict;
use warnings;
use IO::Socket::INET;

my $TIMEOUT = 60;    # per reply and per wait; far above any normal delay

my $bind;
if (@ARGV && $ARGV[0] eq '-b') {
	shift @ARGV;
	$bind = shift @ARGV;
}
my $peer = shift @ARGV or die "usage: dialog.pl [-b addr] host:port step...\n";

my $s = IO::Socket::INET->new(PeerAddr => $peer, Timeout => $TIMEOUT,
    $bind ? (LocalAddr => $bind) : ())
    or die "dialog.pl: connect $peer: $!\n";
print "=== Connected to $peer.\n";

# reply - read one (possibly multi-line) reply; returns its code
sub reply {
	my $code = '';
	local $SIG{ALRM} = sub { die "dialog.pl: no reply in ${TIMEOUT}s\n" };
	alarm $TIMEOUT;
	while (defined(my $l = <$s>)) {
		$l =~ s/\r?\n\z//;
		print "<-  $l\n";
		if ($l =~ /^(\d{3})([ -])/) {
			$code = $1;
			last if $2 eq ' ';
		}
	}
	alarm 0;
	die "dialog.pl: connection closed\n" if $code eq '';
	return $code;
}

sub command {
	my ($c) = @_;
	print " -> $c\n";
	print $s "$c\r\n";
	return reply();
}

sub data {
	my ($id, $bytes) = @_;
	return if command('DATA') ne '354';
	my @m = ("From: <tester\@example.net>", "To: <bob\@example.org>",
	    "Subject: tollgate test $id", "X-Test-Id: $id", "");
	my $line = 'x' x 76;
	push @m, $line for 1 .. int($bytes / 78) + 1;
	print $s "$_\r\n" for @m;
	print $s ".\r\n";
	print " -> " . scalar(@m) . " lines sent\n";
	reply();
}

sub pause {
	my ($file) = @_;
	open(my $fh, '>', "$file.paused") or die "dialog.pl: $file.paused: $!\n";
	close $fh;
	print "=== paused until $file\n";
	for (1 .. $TIMEOUT * 20) {
		return if -e $file;
		select(undef, undef, undef, 0.05);
	}
	die "dialog.pl: $file did not appear in ${TIMEOUT}s\n";
}

$| = 1;
reply();
for my $step (@ARGV) {
	if ($step =~ /^\@data (\S+) (\d+)$/) {
		data($1, $2);
	} elsif ($step =~ /^\@wait (\S+)$/) {
		pause($1);
	} else {
		command($step);
	}
}
command('QUIT');
exit 0;
