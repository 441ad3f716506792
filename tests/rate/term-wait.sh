#!/bin/sh
# term-wait.sh PID LOG - SIGTERM the daemon PID while the caller's session
# is open, and wait until LOG says the daemon has stopped. Called by
# probe.lua (the global hold) through os.execute().
pid=$1 log=$2
kill -TERM "$pid" || exit 1
n=0
until grep -q 'tollgate stopped' "$log"; do
	n=$((n + 1))
	if [ $n -gt 600 ]; then
		echo "term-wait.sh: the daemon did not stop" >&2
		exit 1
	fi
	sleep 0.1
done
exit 0
