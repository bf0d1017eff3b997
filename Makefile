# dmonitor build, test and release entry points.
# Deno is pinned here and only here; every target finds it on PATH (when the version matches)
# or installs that exact version from the npm package `deno` into .tools/.
DENO_VERSION := 2.9.6
LOCAL_DENO := .tools/node_modules/.bin/deno
PATH_DENO := $(shell command -v deno 2>/dev/null)
DENO := $(if $(and $(PATH_DENO),$(findstring deno $(DENO_VERSION) ,$(shell deno --version 2>/dev/null | head -n1) )),$(PATH_DENO),$(LOCAL_DENO))

# Debian packages the tests drive for real: ping for the built-in check, busybox for the shipped
# plugins, chromium for the status page, promtool for /metrics, systemd-analyze for the unit,
# shellcheck and curl for install.sh, setpriv/useradd (Debian base) for staged installs, faketime
# (libfaketime) for a node whose clock is off, postgresql for the shared store (its initdb/pg_ctl
# live in /usr/lib/postgresql/<major>/bin, not on PATH).
TEST_DEBS := iputils-ping busybox chromium prometheus systemd shellcheck curl util-linux passwd prometheus-alertmanager faketime postgresql
TEST_CMDS := ping busybox chromium promtool systemd-analyze shellcheck curl setpriv useradd prometheus-alertmanager faketime

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The release permissions (packaging/permissions.txt), so `make run` behaves as the binary does.
PERMS := $(shell grep -v '^\#' packaging/permissions.txt | tr '\n' ' ')
# And the release V8 flags (packaging/v8-flags.txt), joined as V8 wants them.
V8FLAGS := --v8-flags=$(shell grep -v '^\#' packaging/v8-flags.txt | paste -sd, -)

.PHONY: all run test check build bench deno test-deps fmt clean

all: check test

deno: $(DENO)

$(LOCAL_DENO):
	@echo "installing deno $(DENO_VERSION) from npm into .tools/" >&2
	npm install --prefix .tools --no-save --no-audit --no-fund deno@$(DENO_VERSION) >&2

run: $(DENO)
	$(DENO) run $(V8FLAGS) $(PERMS) main.ts run --config testdata/demo

# Test files run in parallel, one worker per CPU (DENO_JOBS=n to change): each file owns its own
# loopback addresses (tests/README.md), so no two files can collide on an address or a port.
test: $(DENO) test-deps
	$(DENO) test -A --quiet --parallel

check: $(DENO)
	$(DENO) fmt --check
	$(DENO) lint
	$(DENO) check main.ts lib tests bench

fmt: $(DENO)
	$(DENO) fmt

bench: $(DENO)
	$(DENO) run -A bench/run.ts

# Installs what the tests need from Debian, only when something is missing.
test-deps:
	@missing=""; for c in $(TEST_CMDS); do command -v $$c >/dev/null 2>&1 || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing test dependencies: $(TEST_DEBS)" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS)) >&2; \
	  else echo "warning: missing test tools ($(TEST_CMDS)); some tests will fail" >&2; fi; \
	fi

# The release path: dist/dmonitor-linux-x86_64 and -aarch64 (packaging/build.sh). deno compile
# downloads its runtime (denort) unless DENORT_BIN (this machine's architecture) or
# DENORT_BIN_X86_64 / DENORT_BIN_AARCH64 name local copies; where none works, it fails with one
# clear line. ARCHS=x86_64 builds one target only.
build: $(DENO)
	@DENO=$(DENO) sh packaging/build.sh

# dist/dmonitor.js: main.ts and everything it imports in one file that runs with `deno run` anywhere
# (tests/bundle_test.ts runs it outside the repo to prove nothing reads the source tree).
.PHONY: bundle
bundle: $(DENO)
	@mkdir -p dist
	@$(DENO) run --quiet --allow-read --allow-write --allow-run packaging/embed.ts
	$(DENO) bundle --quiet --platform deno --output dist/dmonitor.js main.ts

# dist/dmonitor_<version>_<arch>.deb for amd64 and arm64, built with dpkg-deb (packaging/deb/build.sh):
# the compiled binary from `make build` when dist/dmonitor-linux-<arch> exists, else the bundle with
# the Deno runtime DENO_VERSION from npm. DEB_ARCHS=amd64 builds one; DEB_VERSION, DEB_FLAVOUR
# (auto, compiled, bundle) and DEB_COMPRESS are passed through.
.PHONY: deb test-deb
deb: bundle
	@DENO=$(DENO) DENO_VERSION=$(DENO_VERSION) sh packaging/deb/build.sh

# The package installed, upgraded, removed and purged for real with dpkg in throw-away Debian roots
# (debootstrap; the pristine root is cached in /var/cache/dmonitor-test). Slow, so not in `make test`.
test-deb: $(DENO)
	@for c in debootstrap lintian systemd-analyze; do command -v $$c >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap lintian systemd) >&2; fi
	DMONITOR_DEB_TEST=1 $(DENO) test -A tests/deb_test.ts

clean:
	rm -rf dist .tools
