#!/bin/sh
# dmonitor installer.
#
#   curl -fsSL https://.../install.sh | sh                 install the release binary for this machine
#   sh install.sh [OPTIONS] [BINARY]                       install BINARY (a local file) instead
#   sh install.sh --uninstall [--purge]                    remove it (--purge: config, state, user too)
#
# Options: --prefix DIR (binary in DIR/bin, default /usr/local), DESTDIR=DIR or --destdir DIR
# (install into a staged root: nothing outside it is touched, the service is not started),
# --no-systemd (no unit; for machines with another init system), -h/--help.
# Environment: DMONITOR_URL (the binary's URL), DMONITOR_RELEASE_BASE (where release binaries
# named dmonitor-linux-<arch> live), DESTDIR.
#
# Idempotent: a second run changes nothing. It never overwrites a configuration: /etc/dmonitor is
# created with a commented example tree and a fresh peer.key only when it holds no configuration.
set -eu

RELEASE_BASE=${DMONITOR_RELEASE_BASE:-https://github.com/dmonitor/dmonitor/releases/latest/download}
PREFIX=/usr/local
DESTDIR=${DESTDIR:-}
ACTION=install
PURGE=0
SYSTEMD=1
BINARY=

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
	cat <<'USAGE'
Usage: sh install.sh [--prefix DIR] [DESTDIR=DIR | --destdir DIR] [--no-systemd] [BINARY]
       sh install.sh --uninstall [--purge] [--prefix DIR] [DESTDIR=DIR]

Installs dmonitor: the binary (BINARY, or the release for this machine's architecture from
DMONITOR_URL / DMONITOR_RELEASE_BASE) as PREFIX/bin/dmonitor (PREFIX default /usr/local), the
dmonitor system user, /etc/dmonitor with a commented example tree, the shipped plugins and a fresh
peer.key (only when /etc/dmonitor holds no configuration), /var/lib/dmonitor, and the systemd unit
dmonitor.service, which it enables and starts. Running it again changes nothing.

  --prefix DIR     install the binary into DIR/bin
  DESTDIR=DIR      install into a staged root (nothing outside DIR changes; nothing is started)
  --no-systemd     no unit: for machines with another init system
  --uninstall      remove the binary and the unit; keep configuration, state and the user
  --purge          with --uninstall: remove /etc/dmonitor, /var/lib/dmonitor and the user too
USAGE
}

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
	--prefix=*) PREFIX=${1#--prefix=} ;;
	--destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; DESTDIR=$2; shift ;;
	--destdir=*) DESTDIR=${1#--destdir=} ;;
	DESTDIR=*) DESTDIR=${1#DESTDIR=} ;;
	--uninstall) ACTION=uninstall ;;
	--purge) PURGE=1 ;;
	--no-systemd) SYSTEMD=0 ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option '$1' (see 'sh install.sh --help')" ;;
	*) [ -z "$BINARY" ] || die "more than one BINARY given ('$BINARY' and '$1')"; BINARY=$1 ;;
	esac
	shift
done

case $PREFIX in /*) ;; *) die "--prefix must be an absolute path, got '$PREFIX'" ;; esac
case $DESTDIR in '' | /*) ;; *) die "DESTDIR must be an absolute path, got '$DESTDIR'" ;; esac
DESTDIR=${DESTDIR%/}
[ "$PURGE" = 0 ] || [ "$ACTION" = uninstall ] || die "--purge only goes with --uninstall"

BINDIR=$PREFIX/bin
BIN=$DESTDIR$BINDIR/dmonitor
ETC=$DESTDIR/etc/dmonitor
STATE=$DESTDIR/var/lib/dmonitor
UNIT=$DESTDIR/etc/systemd/system/dmonitor.service

# --- Refusals first, before anything changes -----------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root to create the dmonitor user and /etc/dmonitor; run it with sudo (curl -fsSL URL | sudo sh, or sudo sh install.sh)"

systemd_running() { [ -d /run/systemd/system ]; }
if [ "$ACTION" = install ] && [ -z "$DESTDIR" ] && [ "$SYSTEMD" = 1 ] && ! systemd_running; then
	die "systemd is not running on this machine (no /run/systemd/system), so the service cannot be installed; run 'sh install.sh --no-systemd [BINARY]' to install the files only and start 'dmonitor run --config /etc/dmonitor' as user dmonitor from your init system, or install into a staged root with DESTDIR=DIR"
fi

detect_arch() {
	m=$(uname -m)
	case $m in
	x86_64 | amd64) echo x86_64 ;;
	aarch64 | arm64) echo aarch64 ;;
	*) die "unsupported architecture '$m': dmonitor is released for x86_64 and aarch64 Linux" ;;
	esac
}

TMP=
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

# --- Uninstall -----------------------------------------------------------------------------------
if [ "$ACTION" = uninstall ]; then
	if [ -z "$DESTDIR" ] && systemd_running && [ -f "$UNIT" ]; then
		systemctl disable --now dmonitor.service >/dev/null 2>&1 || true
	fi
	for f in "$UNIT" "$BIN"; do
		if [ -e "$f" ]; then rm -f "$f"; say "removed $f"; fi
	done
	if [ -z "$DESTDIR" ] && systemd_running; then systemctl daemon-reload || true; fi
	if [ "$PURGE" = 1 ]; then
		for d in "$ETC" "$STATE"; do
			if [ -e "$d" ]; then rm -rf "$d"; say "removed $d"; fi
		done
		if grep -q '^dmonitor:' "$DESTDIR/etc/passwd" 2>/dev/null; then
			if command -v userdel >/dev/null 2>&1; then
				if [ -n "$DESTDIR" ]; then userdel --prefix "$DESTDIR" dmonitor; else userdel dmonitor; fi
			elif [ -z "$DESTDIR" ] && command -v deluser >/dev/null 2>&1; then
				deluser dmonitor
			else
				die "cannot remove the dmonitor user: no userdel or deluser here"
			fi
			say "removed user dmonitor"
		fi
		if grep -q '^dmonitor:' "$DESTDIR/etc/group" 2>/dev/null && command -v groupdel >/dev/null 2>&1; then
			if [ -n "$DESTDIR" ]; then groupdel --prefix "$DESTDIR" dmonitor; else groupdel dmonitor; fi
		fi
	else
		say "kept $ETC, $STATE and the dmonitor user; 'sh install.sh --uninstall --purge' removes them too"
	fi
	exit 0
fi

# --- The binary ----------------------------------------------------------------------------------
TMP=$(mktemp -d)
NEW=$TMP/dmonitor
if [ -n "$BINARY" ]; then
	[ -f "$BINARY" ] || die "no such file '$BINARY' (give the path of a dmonitor binary, or nothing to download the release)"
	cp "$BINARY" "$NEW"
	SRC=$BINARY
else
	ARCH=$(detect_arch)
	URL=${DMONITOR_URL:-$RELEASE_BASE/dmonitor-linux-$ARCH}
	say "downloading $URL"
	if command -v curl >/dev/null 2>&1; then
		curl -fsL -o "$NEW" "$URL" || die "cannot download $URL (set DMONITOR_URL, or give a local binary: sh install.sh ./dmonitor-linux-$ARCH)"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$NEW" "$URL" || die "cannot download $URL (set DMONITOR_URL, or give a local binary: sh install.sh ./dmonitor-linux-$ARCH)"
	else
		die "neither curl nor wget is installed; download dmonitor-linux-$ARCH yourself and run: sh install.sh ./dmonitor-linux-$ARCH"
	fi
	SRC=$URL
fi
chmod 0755 "$NEW"
VERSION=$("$NEW" version 2>/dev/null) || VERSION=
case $VERSION in
"dmonitor "*) ;;
*) die "$SRC is not a dmonitor binary that runs on this machine ('dmonitor version' did not answer; architecture $(uname -m))" ;;
esac

CHANGED=0
install_file() { # install_file SRC DEST MODE: replaces DEST atomically, only when it differs
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		say "unchanged $2"
		return 0
	fi
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.new.$$"
	chown 0:0 "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
	CHANGED=1
	say "installed $2"
}

install_file "$NEW" "$BIN" 0755
say "$VERSION"

# --- The dmonitor user ---------------------------------------------------------------------------
PASSWD=$DESTDIR/etc/passwd
if ! grep -q '^dmonitor:' "$PASSWD" 2>/dev/null; then
	nologin=/usr/sbin/nologin
	if [ ! -x "$DESTDIR$nologin" ] && [ -x "$DESTDIR/sbin/nologin" ]; then nologin=/sbin/nologin; fi
	if command -v useradd >/dev/null 2>&1; then
		if [ -n "$DESTDIR" ]; then
			mkdir -p "$DESTDIR/etc"
			useradd --prefix "$DESTDIR" --system --user-group --no-create-home --home-dir /var/lib/dmonitor --shell "$nologin" --comment "dmonitor service monitor" dmonitor
		else
			useradd --system --user-group --no-create-home --home-dir /var/lib/dmonitor --shell "$nologin" --comment "dmonitor service monitor" dmonitor
		fi
	elif [ -z "$DESTDIR" ] && command -v adduser >/dev/null 2>&1; then
		addgroup -S dmonitor 2>/dev/null || true
		adduser -S -D -H -h /var/lib/dmonitor -s "$nologin" -G dmonitor dmonitor
	else
		die "cannot create the dmonitor user: no useradd (or busybox adduser) here"
	fi
	say "created system user dmonitor"
fi
IDS=$(awk -F: '$1 == "dmonitor" { print $3 ":" $4 }' "$PASSWD")
[ -n "$IDS" ] || die "cannot find user dmonitor in $PASSWD"

# --- State ---------------------------------------------------------------------------------------
if [ ! -d "$STATE" ]; then
	mkdir -p "$STATE"
	say "created $STATE"
fi
chown "$IDS" "$STATE"
chmod 0750 "$STATE"

# --- Configuration: only when /etc/dmonitor holds none ---------------------------------------------
if [ -e "$ETC/dmonitor.yaml" ] || [ -e "$ETC/hosts.d" ]; then
	say "kept the configuration in $ETC as it is ('dmonitor init --merge $DESTDIR/etc/dmonitor' adds shipped files it lacks)"
else
	mkdir -p "$ETC"
	chmod 0755 "$ETC"
	"$BIN" init --merge "$ETC" >"$TMP/init.log" 2>&1 || { cat "$TMP/init.log" >&2; die "cannot write the example tree into $ETC"; }
	chown -R 0:0 "$ETC"
	[ ! -f "$ETC/peer.key" ] || { chown "$IDS" "$ETC/peer.key"; chmod 0600 "$ETC/peer.key"; }
	say "created $ETC with a commented example tree, the shipped plugins and a fresh peer.key"
fi

# --- systemd ------------------------------------------------------------------------------------
if [ "$SYSTEMD" = 0 ]; then
	say "no systemd unit installed (--no-systemd): start '$BINDIR/dmonitor run --config /etc/dmonitor' as user dmonitor from your init system"
	exit 0
fi
cat >"$TMP/dmonitor.service" <<UNIT
# dmonitor: distributed service monitor. Installed by install.sh; edit with
# 'systemctl edit dmonitor' (drop-ins survive reinstalls) rather than here.
[Unit]
Description=dmonitor distributed service monitor
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=dmonitor
Group=dmonitor
ExecStart=$BINDIR/dmonitor run --config /etc/dmonitor
ExecReload=/bin/kill -HUP \$MAINPID
Restart=on-failure
RestartSec=5s
TimeoutStopSec=30s
# State lives here; systemd creates it owned by dmonitor if it is missing.
StateDirectory=dmonitor
StateDirectoryMode=0750
ReadWritePaths=/var/lib/dmonitor
UMask=0077
LimitNOFILE=65536

# Hardening. The node needs the network, its state directory, and to run plugins and ping.
NoNewPrivileges=yes
# ping opens raw ICMP sockets; NoNewPrivileges ignores ping's file capabilities, so the one
# capability it needs is passed as an ambient capability (plugins inherit it too).
CapabilityBoundingSet=CAP_NET_RAW
AmbientCapabilities=CAP_NET_RAW
ProtectSystem=strict
# /home stays visible, read-only: check_disk must see the real file system mounted there (with
# ProtectHome=yes it reads an empty stand-in, or cannot find the mount point at all).
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
# Not ProtectProc=invisible (nor ProcSubset=pid): Nagios check_procs and load or memory plugins
# read other users' processes and /proc; hidden, "check_procs -C sshd" sees no sshd and reports a
# false CRITICAL. A node that runs no such plugin can add both back with 'systemctl edit
# dmonitor' (README, "systemd unit").
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# Plugins and alert commands that leave their process group (setsid) are ended through a child
# subreaper (prctl and wait4, both in @system-service; see lib/runner/reaper.ts), not through a
# cgroup, so neither Delegate=yes nor a writable cgroup tree (ProtectControlGroups=no) is needed.
# Left out on purpose: MemoryDenyWriteExecute (the JavaScript JIT needs writable, executable
# memory), PrivateNetwork and IPAddressDeny (checks reach any host), ProtectProc and ProcSubset
# (above), and excluding @privileged system calls (ping drops its capability with capset).

[Install]
WantedBy=multi-user.target
UNIT
BINARY_CHANGED=$CHANGED
CHANGED=0
install_file "$TMP/dmonitor.service" "$UNIT" 0644
UNIT_CHANGED=$CHANGED

if [ -n "$DESTDIR" ]; then
	say "staged root $DESTDIR: not enabling or starting dmonitor.service (on the target: systemctl enable --now dmonitor)"
	exit 0
fi
[ "$UNIT_CHANGED" = 0 ] || systemctl daemon-reload
systemctl enable dmonitor.service >/dev/null 2>&1 || die "systemctl enable dmonitor.service failed"
if systemctl is-active --quiet dmonitor.service; then
	if [ "$UNIT_CHANGED" = 1 ] || [ "$BINARY_CHANGED" = 1 ]; then
		systemctl restart dmonitor.service
		say "restarted dmonitor.service"
	fi
else
	systemctl start dmonitor.service || die "dmonitor.service did not start: see 'journalctl -u dmonitor' and 'dmonitor config check --config /etc/dmonitor'"
	say "started dmonitor.service"
fi
say "done: 'dmonitor status' shows what it checks; edit /etc/dmonitor, then 'systemctl reload dmonitor'"
