#!/bin/sh
# Test alert command: prints 10 MB and succeeds.
head -c 10000000 /dev/zero | tr '\0' x
