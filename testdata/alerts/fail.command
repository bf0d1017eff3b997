#!/bin/sh
# Test alert command: the pager service refuses.
cat >/dev/null
echo "pager service said no" >&2
exit 3
