#!/bin/sh
# Test alert command: takes the notification and exits 0, leaving behind what a careless pager
# script might: a child that left the session with setsid and holds stdout, and a daemon
# double-forked out of a second session (its parent exits at once).
cat >/dev/null
echo "queued"
setsid sleep 1000 &
setsid sh -c 'sleep 1000 &' &
exit 0
