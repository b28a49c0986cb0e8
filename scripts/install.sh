#!/bin/sh
# install.sh - install mailport where a packager expects it (called by
# `make install`; usable on its own from the top of the tree).
#
# Settings come from the environment (the Makefile passes them on):
#   BUILD       build directory holding the mailport binary (default build)
#   PREFIX      installation prefix (default /usr/local)
#   DESTDIR     staging root prepended to every path (default empty)
#   SYSCONFDIR  /etc when PREFIX is /usr, else $PREFIX/etc
#   SYSTEMDDIR  /lib/systemd/system when PREFIX is /usr,
#               else $PREFIX/lib/systemd/system
#   GZIP_MAN    yes: install the man pages gzip -9n compressed (default no)
#   SENDMAIL_LINK  no: skip the $PREFIX/sbin/sendmail -> mailport link
#               (for packages that manage it with update-alternatives)
#
# What goes where (PREFIX=/usr):
#   /usr/sbin/mailport                       the binary (0755)
#   /usr/sbin/sendmail -> mailport           the sendmail(1) interface
#   /usr/share/man/man8/mailport.8           mailport(8)
#   /usr/share/man/man5/mailport.conf.5      mailport.conf(5)
#   /etc/mailport/mailport.conf.sample       the commented sample, always
#   /etc/mailport/mailport.conf              the same, only if not there yet
#   /lib/systemd/system/mailport.service     the unit, paths filled in
#   /var/spool/mailport, /var/mail/mailport  spool and mailboxes (the unit's
#                                            ReadWritePaths= must exist)
# An existing mailport.conf is never overwritten: it is the admin's.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
GZIP_MAN=${GZIP_MAN:-no}
SENDMAIL_LINK=${SENDMAIL_LINK:-yes}
if [ "$PREFIX" = /usr ]; then
	SYSCONFDIR=${SYSCONFDIR:-/etc}
	SYSTEMDDIR=${SYSTEMDDIR:-/lib/systemd/system}
else
	SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc}
	SYSTEMDDIR=${SYSTEMDDIR:-$PREFIX/lib/systemd/system}
fi
SBINDIR=$PREFIX/sbin
MANDIR=$PREFIX/share/man
CONFDIR=$SYSCONFDIR/mailport
SPOOLDIR=/var/spool/mailport
MAILDIR=/var/mail/mailport

case $BUILD in
/*) bin=$BUILD/mailport ;;
*) bin=$top/$BUILD/mailport ;;
esac

# die - print a message and stop
die() {
	echo "install.sh: $*" >&2
	exit 1
}

# say - one line per installed item, like the Makefile's "  CC  file"
say() {
	printf '  %-8s %s\n' "$1" "$2"
}

# sed_escape - quote a path for the replacement side of s|...|...|
sed_escape() {
	printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# install_man FILE SECTION - one man page, optionally gzip-compressed
install_man() {
	dir=$DESTDIR$MANDIR/man$2
	name=$(basename "$1")
	install -d -m 0755 "$dir"
	if [ "$GZIP_MAN" = yes ]; then
		rm -f "$dir/$name"
		gzip -9n -c "$1" >"$dir/$name.gz.tmp"
		chmod 0644 "$dir/$name.gz.tmp"
		mv -f "$dir/$name.gz.tmp" "$dir/$name.gz"
		say MAN "$MANDIR/man$2/$name.gz"
	else
		rm -f "$dir/$name.gz"
		install -m 0644 "$1" "$dir/$name"
		say MAN "$MANDIR/man$2/$name"
	fi
}

# install_unit - the systemd unit with the installation paths filled in
install_unit() {
	tmp=$DESTDIR$SYSTEMDDIR/.mailport.service.tmp
	install -d -m 0755 "$DESTDIR$SYSTEMDDIR"
	sed -e "s|@SBINDIR@|$(sed_escape "$SBINDIR")|g" \
	    -e "s|@SYSCONFDIR@|$(sed_escape "$SYSCONFDIR")|g" \
	    "$top/dist/mailport.service" >"$tmp"
	if grep -q '@[A-Z]*@' "$tmp"; then
		rm -f "$tmp"
		die "dist/mailport.service: a placeholder was left unfilled"
	fi
	chmod 0644 "$tmp"
	mv -f "$tmp" "$DESTDIR$SYSTEMDDIR/mailport.service"
	say UNIT "$SYSTEMDDIR/mailport.service"
}

# install_config - the sample always, the live config only the first time
install_config() {
	install -d -m 0755 "$DESTDIR$CONFDIR"
	install -m 0644 "$top/dist/mailport.conf" "$DESTDIR$CONFDIR/mailport.conf.sample"
	say CONF "$CONFDIR/mailport.conf.sample"
	if [ -e "$DESTDIR$CONFDIR/mailport.conf" ] || [ -L "$DESTDIR$CONFDIR/mailport.conf" ]; then
		say KEEP "$CONFDIR/mailport.conf (exists, not overwritten)"
	else
		install -m 0644 "$top/dist/mailport.conf" "$DESTDIR$CONFDIR/mailport.conf"
		say CONF "$CONFDIR/mailport.conf"
	fi
}

[ -x "$bin" ] || die "$bin not found: run make first"
for f in dist/mailport.conf dist/mailport.service docs/mailport.8 docs/mailport.conf.5; do
	[ -f "$top/$f" ] || die "$top/$f is missing"
done

install -d -m 0755 "$DESTDIR$SBINDIR"
install -m 0755 "$bin" "$DESTDIR$SBINDIR/mailport"
say BIN "$SBINDIR/mailport"
if [ "$SENDMAIL_LINK" != no ]; then
	ln -sf mailport "$DESTDIR$SBINDIR/sendmail"
	say LINK "$SBINDIR/sendmail -> mailport"
fi
install_man "$top/docs/mailport.8" 8
install_man "$top/docs/mailport.conf.5" 5
install_config
install_unit
# sysusers.d next to the unit: systemd-sysusers creates the mailport user
SYSUSERSDIR=${SYSUSERSDIR:-$(dirname "$(dirname "$SYSTEMDDIR")")/sysusers.d}
install -d -m 0755 "$DESTDIR$SYSUSERSDIR"
install -m 0644 "$top/dist/mailport.sysusers" "$DESTDIR$SYSUSERSDIR/mailport.conf"
say USER "$SYSUSERSDIR/mailport.conf"
install -d -m 0755 "$DESTDIR$SPOOLDIR" "$DESTDIR$MAILDIR"
say DIR "$SPOOLDIR $MAILDIR"

if [ -z "$DESTDIR" ]; then
	if ! getent passwd mailport >/dev/null 2>&1; then
		echo "install.sh: note: create the mailport user before starting the server:"
		echo "    useradd --system --home-dir $SPOOLDIR --no-create-home --shell /usr/sbin/nologin mailport"
	fi
	echo "install.sh: then: systemctl daemon-reload && systemctl enable --now mailport"
fi
