#!/bin/sh
# Test alert command: ignores SIGTERM, forks a child that keeps stdout open, and never ends.
trap '' TERM
sleep 300 &
echo "started"
sleep 300
