#!/bin/sh
# `make build`: dist/dmonitor-linux-<arch> for each architecture with `deno compile`, embedding the
# example tree and the shipped plugins (packaging/embed.ts) and the permissions in permissions.txt.
#
#   DENO=deno sh packaging/build.sh              (ARCHS="x86_64 aarch64" by default)
#
# deno compile needs a runtime (denort) per target and downloads it unless DENORT_BIN names one.
# A denort only serves its own architecture, so DENORT_BIN is used for the target it was built for
# (read from its ELF header); DENORT_BIN_X86_64 and DENORT_BIN_AARCH64 name one per target. A
# target with neither is downloaded; where that fails, the build stops with one line saying so.
set -eu
cd "$(dirname "$0")/.."
DENO=${DENO:-deno}
ARCHS=${ARCHS:-x86_64 aarch64}
PERMS=$(grep -v '^#' packaging/permissions.txt | tr '\n' ' ')
V8FLAGS=--v8-flags=$(grep -v '^#' packaging/v8-flags.txt | paste -sd, -)
DENO_VERSION=$("$DENO" --version | sed -n '1s/^deno \([^ ]*\).*/\1/p')

fail() { printf 'make build: %s\n' "$*" >&2; exit 1; }

elf_arch() { # prints x86_64, aarch64 or unknown for an ELF file
	case $(od -An -j18 -N2 -tu2 "$1" 2>/dev/null | tr -d ' ') in
	62) echo x86_64 ;;
	183) echo aarch64 ;;
	*) echo unknown ;;
	esac
}

mkdir -p dist
"$DENO" run --quiet --allow-read --allow-write --allow-run packaging/embed.ts || fail "cannot generate lib/init/embedded.ts"

for arch in $ARCHS; do
	case $arch in
	x86_64) target=x86_64-unknown-linux-gnu; own=${DENORT_BIN_X86_64:-}; var=DENORT_BIN_X86_64 ;;
	aarch64) target=aarch64-unknown-linux-gnu; own=${DENORT_BIN_AARCH64:-}; var=DENORT_BIN_AARCH64 ;;
	*) fail "unknown architecture '$arch' in ARCHS (x86_64, aarch64)" ;;
	esac
	out=dist/dmonitor-linux-$arch
	log=dist/build-$arch.log
	runtime=$own
	note=
	if [ -z "$runtime" ] && [ -n "${DENORT_BIN:-}" ]; then
		[ -f "$DENORT_BIN" ] || fail "DENORT_BIN=$DENORT_BIN does not exist"
		if [ "$(elf_arch "$DENORT_BIN")" = "$arch" ]; then runtime=$DENORT_BIN; else note=" (DENORT_BIN is a $(elf_arch "$DENORT_BIN") runtime)"; fi
	fi
	if [ -n "$runtime" ]; then
		[ -f "$runtime" ] || fail "the denort for $arch ($runtime) does not exist"
		got=$(elf_arch "$runtime")
		[ "$got" = "$arch" ] || fail "the denort given for $arch ($runtime) is built for $got"
	fi
	rm -f "$out"
	# shellcheck disable=SC2086 # PERMS is a list of flags
	if ! (
		if [ -n "$runtime" ]; then DENORT_BIN=$runtime && export DENORT_BIN; else unset DENORT_BIN; fi
		exec "$DENO" compile $PERMS "$V8FLAGS" --no-check=remote --target "$target" --output "$out" main.ts
	) >"$log" 2>&1; then
		if grep -q 'dl.deno.land' "$log"; then
			fail "cannot build $out: deno compile could not download its runtime denort $DENO_VERSION for $target and no local one was given$note; set $var=/path/to/denort or build fewer targets with ARCHS (see $log)"
		fi
		fail "cannot build $out: $(grep -m1 -i 'error' "$log" | sed 's/\x1b\[[0-9;]*m//g') (see $log)"
	fi
	# A denort of this machine's architecture can be tried: a full deno binary given as DENORT_BIN
	# yields a program that starts a REPL instead of dmonitor.
	if [ "$(elf_arch "$(command -v "$DENO" 2>/dev/null || echo "$DENO")")" = "$arch" ]; then
		v=$(timeout 20 "$out" version </dev/null 2>/dev/null || true)
		case $v in
		"dmonitor "*) ;;
		*)
			rm -f "$out"
			fail "cannot build $out: the runtime ${runtime:-downloaded by deno compile} is not denort (the result does not run dmonitor); point DENORT_BIN at denort $DENO_VERSION, not at deno"
			;;
		esac
	fi
	printf 'built %s (%s bytes)\n' "$out" "$(wc -c <"$out" | tr -d ' ')" >&2
done
