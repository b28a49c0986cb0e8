#!/bin/sh
# deps.sh run|test - install what mailport needs on Debian 12 (non-interactive,
# only what is missing), and the unprivileged "mailport" user the daemon drops to.
set -eu
mode=${1:-run}
# Packages are installed with --no-install-recommends, so every package a
# tool needs only as a Recommends is listed here itself:
#   libc6-dev       the C headers: gcc only Recommends libc-dev
#   libedit-dev     line editing for `mailport probe -i` (brings libedit2)
#   libseccomp-dev  the worker's system call filter
build="gcc libc6-dev make pkg-config libevent-dev libssl-dev libc-ares-dev libcrypt-dev libinih-dev
libedit-dev libseccomp-dev"
# Test tools (tests/blackbox): swaks, curl, msmtp, openssl (s_client, test
# PKI), strace, mail (bsd-mailx), smtp-source (postfix), unshare/findmnt
# (util-linux), cc for the slowfsync.c shim (gcc + libc6-dev above), and:
#   libnet-ssleay-perl       swaks --tls ("TLS not available: requires Net::SSLeay")
#   libio-socket-inet6-perl  swaks to [::1] ("IPv6 not available: requires IO::Socket::INET6")
#   iproute2                 ss -ltn (listen backlog test)
#   groff-base               groff -man (man page test)
#   systemd man-db           systemd-analyze verify (it runs man(1) for Documentation=)
#   gdb                      opens files inside the running worker (the Landlock test)
test_pkgs="libcmocka-dev python3 swaks libnet-ssleay-perl libio-socket-inet6-perl curl dnsmasq-base
postfix openssl strace bsd-mailx util-linux msmtp iproute2 groff-base systemd man-db gdb"
want=$build
[ "$mode" = test ] && want="$build $test_pkgs"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "deps.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
if [ "$mode" = test ] && [ "$(id -u)" = 0 ]; then
	# Postfix is installed only for smtp-source/smtp-sink: keep its daemon off port 25.
	if command -v postfix >/dev/null 2>&1; then
		postfix stop >/dev/null 2>&1 || true
		systemctl disable --now postfix >/dev/null 2>&1 || true
	fi
fi
if [ "$(id -u)" = 0 ] && ! getent passwd mailport >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mailport
fi
exit 0
