#!/bin/sh
# `make deb`: dist/dmonitor_<version>_<arch>.deb for each Debian architecture, built with dpkg-deb
# from a staged tree (see "Debian package" in the README for why not debhelper).
#
#   DENO=deno DENO_VERSION=2.9.6 sh packaging/deb/build.sh
#
# DEB_ARCHS     Debian architectures to build (default "amd64 arm64").
# DEB_VERSION   the package version (default: VERSION in lib/cli/version.ts). A version without a
#               changelog entry gets one generated on top of packaging/deb/changelog.
# DEB_FLAVOUR   auto (default): the compiled binary dist/dmonitor-linux-<arch> from `make build`
#               when it exists, else the bundle; compiled or bundle force one.
# DEB_COMPRESS  dpkg-deb's compressor (default xz).
#
# The bundle flavour carries dist/dmonitor.js (`make bundle`) and the Deno runtime DENO_VERSION
# for the architecture, from the npm package @deno/linux-<x64|arm64>-glibc (cached in
# dist/deno-runtime/), under /usr/lib/dmonitor, started by /usr/bin/dmonitor (dmonitor.sh).
set -eu
cd "$(dirname "$0")/../.."
DENO=${DENO:-deno}
DENO_VERSION=${DENO_VERSION:?DENO_VERSION must be set (the Makefile pins it)}
DEB_ARCHS=${DEB_ARCHS:-amd64 arm64}
DEB_FLAVOUR=${DEB_FLAVOUR:-auto}
DEB_COMPRESS=${DEB_COMPRESS:-xz}
UPSTREAM=$(sed -n 's/^export const VERSION = "\(.*\)";$/\1/p' lib/cli/version.ts)
[ -n "$UPSTREAM" ] || { echo "make deb: cannot read VERSION from lib/cli/version.ts" >&2; exit 1; }
DEB_VERSION=${DEB_VERSION:-$UPSTREAM}
SRC=packaging/deb
PERMS=$(grep -v '^#' packaging/permissions.txt | tr '\n' ' ' | sed 's/ *$//')
V8FLAGS=--v8-flags=$(grep -v '^#' packaging/v8-flags.txt | paste -sd, -)

fail() { printf 'make deb: %s\n' "$*" >&2; exit 1; }

case $DEB_VERSION in
[0-9]*) ;;
*) fail "DEB_VERSION must start with a digit (Debian policy 5.6.12), got '$DEB_VERSION'" ;;
esac
case $DEB_VERSION in *[!0-9A-Za-z.+~-]*) fail "DEB_VERSION has a character Debian versions cannot hold: '$DEB_VERSION'" ;; esac
case $DEB_FLAVOUR in auto | compiled | bundle) ;; *) fail "DEB_FLAVOUR must be auto, compiled or bundle, got '$DEB_FLAVOUR'" ;; esac
for tool in dpkg-deb gzip readelf md5sum; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is needed (apt-get install dpkg binutils)"
done

elf_arch() { # x86_64, aarch64 or unknown
	case $(od -An -j18 -N2 -tu2 "$1" 2>/dev/null | tr -d ' ') in
	62) echo x86_64 ;;
	183) echo aarch64 ;;
	*) echo unknown ;;
	esac
}

# Depends for an ELF program: libc6 at the newest GLIBC_ symbol version it uses, libgcc-s1 when it
# links libgcc_s (dpkg-shlibdeps would need the foreign architecture's libraries installed).
elf_depends() {
	glibc=$(readelf -V --wide "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -n 1)
	deps="libc6 (>= ${glibc:-2.17})"
	if readelf -d "$1" | grep -q 'NEEDED.*\[libgcc_s\.so\.1\]'; then deps="$deps, libgcc-s1 (>= 4.2)"; fi
	echo "$deps"
}

# The Deno runtime for one architecture, from npm, cached per version and architecture.
runtime() { # runtime DEBARCH NPMARCH ELFARCH -> prints the path of the deno binary
	dir=dist/deno-runtime/$DENO_VERSION-$1
	bin=$dir/node_modules/@deno/linux-$2-glibc/deno
	if [ ! -x "$bin" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-save --no-audit --no-fund --force "@deno/linux-$2-glibc@$DENO_VERSION" >"$dir.log" 2>&1 ||
			fail "cannot install the Deno runtime @deno/linux-$2-glibc@$DENO_VERSION from npm (see $dir.log)"
	fi
	got=$(sed -n 's/^ *"version": "\(.*\)",*$/\1/p' "$dir/node_modules/@deno/linux-$2-glibc/package.json")
	[ "$got" = "$DENO_VERSION" ] || fail "$bin is Deno $got, not $DENO_VERSION"
	[ "$(elf_arch "$bin")" = "$3" ] || fail "$bin is not an $3 program"
	echo "$bin"
}

# The configuration tree, written by `dmonitor init` itself so the package and init never differ;
# peer.key is left out (postinst makes one per machine).
tree=dist/deb/etc-dmonitor
rm -rf "$tree" && mkdir -p dist/deb
"$DENO" run --quiet --allow-read --allow-write --allow-run packaging/embed.ts || fail "cannot generate lib/init/embedded.ts"
"$DENO" run --quiet -A main.ts init "$tree" >/dev/null || fail "dmonitor init could not write the configuration tree"
rm -f "$tree/peer.key"

# The changelog: the shipped one, with an entry for DEB_VERSION on top when it has none.
changelog=dist/deb/changelog
if sed -n '1p' "$SRC/changelog" | grep -qF "dmonitor ($DEB_VERSION) "; then
	cp "$SRC/changelog" "$changelog"
else
	maint=$(sed -n 's/^Maintainer: //p' "$SRC/control.in")
	{
		printf 'dmonitor (%s) unstable; urgency=medium\n\n  * Build of dmonitor %s.\n\n -- %s  %s\n\n' \
			"$DEB_VERSION" "$UPSTREAM" "$maint" "$(date -R -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH})"
		cat "$SRC/changelog"
	} >"$changelog"
fi

for arch in $DEB_ARCHS; do
	case $arch in
	amd64) elf=x86_64 npm=x64 ;;
	arm64) elf=aarch64 npm=arm64 ;;
	*) fail "unknown Debian architecture '$arch' in DEB_ARCHS (amd64, arm64)" ;;
	esac
	compiled=dist/dmonitor-linux-$elf
	flavour=$DEB_FLAVOUR
	if [ "$flavour" = auto ]; then
		if [ -f "$compiled" ]; then flavour=compiled; else flavour=bundle; fi
	fi
	root=dist/deb/$arch
	rm -rf "$root"
	install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/dmonitor" \
		"$root/lib/systemd/system" "$root/etc/default" "$root/var/lib/dmonitor" \
		"$root/usr/share/doc/dmonitor" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"

	if [ "$flavour" = compiled ]; then
		[ -f "$compiled" ] || fail "DEB_FLAVOUR=compiled but $compiled does not exist (make build)"
		[ "$(elf_arch "$compiled")" = "$elf" ] || fail "$compiled is not an $elf program"
		install -m 0755 "$compiled" "$root/usr/bin/dmonitor"
		depends=$(elf_depends "$compiled")
		what="the compiled dmonitor binary (deno compile, Deno $DENO_VERSION)"
		printf 'compiled\n' >"$root/usr/lib/dmonitor/flavour"
	else
		[ -f dist/dmonitor.js ] || fail "dist/dmonitor.js does not exist (make bundle)"
		deno_bin=$(runtime "$arch" "$npm" "$elf")
		install -m 0755 "$deno_bin" "$root/usr/lib/dmonitor/deno"
		install -m 0644 dist/dmonitor.js "$root/usr/lib/dmonitor/dmonitor.js"
		sed -e "s|@PERMS@|$PERMS|" -e "s|@V8FLAGS@|$V8FLAGS|" "$SRC/dmonitor.sh" >"$root/usr/bin/dmonitor"
		chmod 0755 "$root/usr/bin/dmonitor"
		depends=$(elf_depends "$deno_bin")
		what="the bundled program on the Deno $DENO_VERSION runtime"
		printf 'bundle deno %s\n' "$DENO_VERSION" >"$root/usr/lib/dmonitor/flavour"
	fi
	chmod 0644 "$root/usr/lib/dmonitor/flavour"
	install -m 0755 "$SRC/tentacle-serverd" "$root/usr/lib/dmonitor/tentacle-serverd"

	# The unit install.sh writes, with the package's paths.
	sed -e 's|/usr/local/bin/dmonitor|/usr/bin/dmonitor|' \
		-e 's|^# dmonitor: distributed service monitor. Installed by install.sh; edit with$|# dmonitor: distributed service monitor, from the dmonitor package. Change it with|' \
		-e 's|^\[Unit\]$|[Unit]\nDocumentation=man:dmonitor(1)|' \
		packaging/dmonitor.service >"$root/lib/systemd/system/dmonitor.service"
	grep -q '^ExecStart=/usr/bin/dmonitor run' "$root/lib/systemd/system/dmonitor.service" || fail "packaging/dmonitor.service has no ExecStart to adapt"
	install -m 0644 "$SRC/dmonitor-tentacle.service" "$root/lib/systemd/system/dmonitor-tentacle.service"
	chmod 0644 "$root/lib/systemd/system/dmonitor.service"
	install -m 0644 "$SRC/dmonitor-tentacle.default" "$root/etc/default/dmonitor-tentacle"

	cp -R "$tree" "$root/etc/dmonitor"
	find "$root/etc/dmonitor" -type d -exec chmod 0755 {} +
	# 0750 and owner dmonitor come from postinst (dpkg-statoverride respected there).

	gzip -9n <"$SRC/dmonitor.1" >"$root/usr/share/man/man1/dmonitor.1.gz"
	gzip -9n <"$changelog" >"$root/usr/share/doc/dmonitor/changelog.gz"
	install -m 0644 "$SRC/copyright" "$root/usr/share/doc/dmonitor/copyright"
	install -m 0644 "$SRC/lintian-overrides" "$root/usr/share/lintian/overrides/dmonitor"
	if [ "$flavour" = compiled ]; then
		# The runtime overrides name /usr/lib/dmonitor/deno, which this flavour does not ship.
		grep -v 'usr/lib/dmonitor/deno' "$SRC/lintian-overrides" >"$root/usr/share/lintian/overrides/dmonitor"
	fi
	chmod 0644 "$root/usr/share/man/man1/dmonitor.1.gz" "$root/usr/share/doc/dmonitor/changelog.gz" \
		"$root/usr/share/lintian/overrides/dmonitor"

	# Everything under /etc is a conffile: dpkg keeps the administrator's edits on upgrade.
	(cd "$root" && find etc -type f | LC_ALL=C sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
	for s in postinst prerm postrm; do install -m 0755 "$SRC/$s" "$root/DEBIAN/$s"; done
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	sed -e "s|@VERSION@|$DEB_VERSION|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
		-e "s|@DEPENDS@|adduser, init-system-helpers (>= 1.54~), $depends|" -e "s|@WHAT@|$what|" \
		"$SRC/control.in" >"$root/DEBIAN/control"
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

	out=dist/dmonitor_${DEB_VERSION}_$arch.deb
	rm -f "$out"
	dpkg-deb --root-owner-group -Z"$DEB_COMPRESS" --build "$root" "$out" >/dev/null ||
		fail "dpkg-deb could not build $out"
	printf 'built %s (%s, %s bytes)\n' "$out" "$flavour" "$(wc -c <"$out" | tr -d ' ')" >&2
done
