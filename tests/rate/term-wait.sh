#!/bin/sh
# term-wait.sh PID LOG - SIGTERM the daemon PID while the caller's session
# is open, and wait (at most a minute) until LOG says the daemon stopped.
# Called by probe.lua (the global hold) through os.execute().
kill -TERM "$1" || exit 1
timeout 60 sh -c "until grep -q 'tollgate stopped' '$2'; do sleep 0.1; done" ||
    { echo "term-wait.sh: the daemon did not stop" >&2; exit 1; }
