#!/bin/sh
# dmonitor: the bundled program (/usr/lib/dmonitor/dmonitor.js) on the Deno runtime shipped with it,
# with exactly the permissions and V8 flags the compiled release binary has
# (packaging/permissions.txt, packaging/v8-flags.txt), and,
# like that binary, no configuration or lock file, no prompts, no module downloads and nothing
# written outside what dmonitor itself writes (DENO_DIR cannot be created under /dev/null).
DENO_DIR=/dev/null/deno
DENO_NO_UPDATE_CHECK=1
DENO_NO_PACKAGE_JSON=1
export DENO_DIR DENO_NO_UPDATE_CHECK DENO_NO_PACKAGE_JSON
exec /usr/lib/dmonitor/deno run --quiet --no-config --no-lock --no-prompt --no-remote --no-npm \
	--no-code-cache @V8FLAGS@ @PERMS@ /usr/lib/dmonitor/dmonitor.js "$@"
