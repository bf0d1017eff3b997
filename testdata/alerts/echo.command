#!/bin/sh
# Test alert command: echoes the notification from stdin to stdout, and on stderr tells how it
# was run (user, directory, process group, environment) so tests can check the sandbox.
cat
echo "uid=$(id -u) cwd=$(pwd) pgid=$(cut -d" " -f5 /proc/$$/stat) pid=$$" >&2
env | sort >&2
