#!/bin/sh
# reload.sh NEW CONF PIDFILE LOG - install NEW as the daemon's policy file,
# send SIGHUP to the PID in PIDFILE and wait until LOG says the reload is
# over (reloaded or failed). Called by reload.lua through os.execute().
new=$1 conf=$2 pidfile=$3 log=$4
done_lines() {
	grep -c -e 'policy reloaded' -e 'reload failed' "$log"
}
before=$(done_lines)
cp "$new" "$conf" || exit 1
kill -HUP "$(cat "$pidfile")" || exit 1
n=0
while [ "$(done_lines)" -le "$before" ]; do
	n=$((n + 1))
	if [ $n -gt 100 ]; then
		echo "reload.sh: no reload logged in $log" >&2
		exit 1
	fi
	sleep 0.1
done
exit 0
