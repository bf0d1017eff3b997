# dmonitor build, test and release entry points.
# Deno is pinned here and only here; every target finds it on PATH (when the version matches)
# or installs that exact version from the npm package `deno` into .tools/.
DENO_VERSION := 2.9.6
LOCAL_DENO := .tools/node_modules/.bin/deno
PATH_DENO := $(shell command -v deno 2>/dev/null)
DENO := $(if $(and $(PATH_DENO),$(findstring deno $(DENO_VERSION) ,$(shell deno --version 2>/dev/null | head -n1) )),$(PATH_DENO),$(LOCAL_DENO))

# Debian packages the tests drive for real (ping for the built-in check, busybox for shipped plugins).
TEST_DEBS := iputils-ping busybox
TEST_CMDS := ping busybox

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
PERMS := --allow-read --allow-write --allow-net --allow-run --allow-env --allow-sys --allow-ffi

.PHONY: all run test check build bench deno test-deps fmt clean

all: check test

deno: $(DENO)

$(LOCAL_DENO):
	@echo "installing deno $(DENO_VERSION) from npm into .tools/" >&2
	npm install --prefix .tools --no-save --no-audit --no-fund deno@$(DENO_VERSION) >&2

run: $(DENO)
	$(DENO) run $(PERMS) main.ts run --config testdata/demo

test: $(DENO) test-deps
	$(DENO) test -A --quiet

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
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing test dependencies: $(TEST_DEBS)" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS)) >&2; \
	  else echo "warning: missing test tools ($(TEST_CMDS)); some tests will fail" >&2; fi; \
	fi

# The release path: one binary per architecture. deno compile downloads its runtime (denort) unless
# DENORT_BIN names a local copy; where neither works, this fails with one clear line.
build: $(DENO)
	@mkdir -p dist
	@for t in $(TARGETS); do \
	  arch=$${t%%-*}; out=dist/dmonitor-linux-$$arch; \
	  echo "building $$out" >&2; \
	  $(DENO) compile $(PERMS) --no-check=remote --target $$t --output $$out main.ts >dist/build-$$arch.log 2>&1 \
	    || { echo "make build: deno compile for $$t failed (denort runtime not downloadable here; set DENORT_BIN to a local denort for $$t). See dist/build-$$arch.log" >&2; exit 1; }; \
	done

clean:
	rm -rf dist .tools
