#!/bin/bash
# bench/postfix.sh - the same load as bench/run.sh against a throwaway Postfix
# instance, so mailport can be compared with Postfix on the same machine.
#
#   bench/postfix.sh [-q] [SESSIONS] [MESSAGES] [SIZE_BYTES]
#
# Builds a complete Postfix instance under a temp dir (config, queue, data and
# Maildir; /etc/postfix and the system's Postfix are never touched), starts it
# with `postfix -c DIR start`, listening only on 127.0.0.1:$POSTFIX_PORT
# (default 2792), drives it with smtp-source and times acceptance (smtp-source
# start to end) and delivery (until MESSAGES files are in the virtual Maildir's
# new/).  The summed RSS (and Pss) of the master and all its children is
# sampled every 0.2 s; the peaks are reported.  Postfix keeps its default
# durability: cleanup fsyncs the queue file before smtpd answers 250 and
# virtual(8) fsyncs each Maildir file before linking it into new/.
#
# Output: labelled lines, or with -q one line "ACCEPT DELIVER RSS_KIB PSS_KIB"
# (msg/s, msg/s, peak summed RSS, peak summed Pss) for bench/run.sh.  Must
# run as root (Postfix's master needs it); the instance is stopped and the
# temp dir removed on exit (POSTFIX_BENCH_KEEP=1 keeps the dir).  Loopback
# only; POSTFIX_DEADLINE (default 900 s) bounds the wait for delivery.
set -eu
quiet=0
[ "${1:-}" = -q ] && { quiet=1; shift; }
S=${1:-50}
M=${2:-5000}
SZ=${3:-2048}
PORT=${POSTFIX_PORT:-2792}
DEADLINE=${POSTFIX_DEADLINE:-900}

[ "$(id -u)" = 0 ] || { echo "postfix.sh: must run as root" >&2; exit 1; }
for c in postfix postconf smtp-source; do
	command -v $c >/dev/null || { echo "postfix.sh: $c not found" >&2; exit 1; }
done
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then
	echo "postfix.sh: 127.0.0.1:$PORT already in use" >&2; exit 1
fi

dir=$(mktemp -d /tmp/postfix-bench.XXXXXX)
chmod 0755 "$dir"
conf=$dir/etc
queue=$dir/spool
sampler=
source_pid=

now() { date +%s.%N; }

# master_pid - pid of this instance's master, empty when it is not running
master_pid() {
	local p
	p=$(awk '{print $1; exit}' "$queue/pid/master.pid" 2>/dev/null) || return 0
	[ -n "$p" ] && [ -d "/proc/$p" ] && echo "$p"
	return 0
}

# cleanup - stop the sampler and this instance only, then remove the temp dir
cleanup() {
	local p tries=0
	set +e
	[ -n "$source_pid" ] && kill "$source_pid" 2>/dev/null && wait "$source_pid" 2>/dev/null
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
	p=$(master_pid)
	if [ -n "$p" ]; then
		postfix -c "$conf" stop >/dev/null 2>&1 || true
		while [ -d "/proc/$p" ] && [ $tries -lt 100 ]; do
			sleep 0.1; tries=$((tries + 1))
		done
		# master is a process group leader: its group is this instance
		[ -d "/proc/$p" ] && kill -9 -- "-$p" 2>/dev/null
	fi
	if [ "${POSTFIX_BENCH_KEEP:-0}" = 1 ]; then
		echo "postfix.sh: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# write_config - main.cf and master.cf of the throwaway instance
write_config() {
	local uid gid
	uid=$(id -u postfix); gid=$(id -g postfix)
	mkdir -p "$conf" "$queue" "$dir/data" "$dir/mail"
	chown "$uid:$gid" "$dir/mail" "$dir/data"
	cat > "$conf/main.cf" <<CF
compatibility_level = 3.6
config_directory = $conf
queue_directory = $queue
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = postfix-bench.example.test
mydomain = example.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:example.test/alice/
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
CF
	# Only the services this load needs; no chroot (column 5 = n), and
	# smtpd on a loopback port instead of *:25.
	cat > "$conf/master.cf" <<CF
127.0.0.1:$PORT inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CF
}

# sample_rss - peaks of the summed VmRSS and Pss of master and its children
# into $2 ("RSS PSS", KiB).  RSS counts shared pages (libraries, the same
# binary) once per process; Pss divides them among the processes sharing them.
sample_rss() {
	local m=$1 out=$2 peak=0 ppeak=0 pids p
	while [ -d "/proc/$m" ]; do
		pids="$m $(cat "/proc/$m/task/$m/children" 2>/dev/null || true)"
		set -- $(for p in $pids; do
			cat "/proc/$p/status" "/proc/$p/smaps_rollup" 2>/dev/null || true
		done | awk '/^VmRSS:/ {r += $2} /^Pss:/ {p += $2} END {print r + 0, p + 0}')
		[ "$1" -gt "$peak" ] && peak=$1
		[ "$2" -gt "$ppeak" ] && ppeak=$2
		echo "$peak $ppeak" > "$out.new" && mv "$out.new" "$out"
		sleep 0.2
	done
}

count_delivered() {
	find "$dir/mail" -path '*/new/*' -type f 2>/dev/null | wc -l
}

# diagnose - what Postfix said, when something went wrong
diagnose() {
	echo "postfix.sh: $1" >&2
	tail -n 20 "$dir/maillog" >&2 2>/dev/null || true
}

write_config
postfix -c "$conf" check >/dev/null 2>&1 || true   # creates the queue dirs
postfix -c "$conf" start >/dev/null 2>&1 || { diagnose "postfix start failed"; exit 1; }
mpid=$(master_pid)
[ -n "$mpid" ] || { diagnose "no master pid"; exit 1; }
tries=0
while ! (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -gt 200 ] && { diagnose "port $PORT not up"; exit 1; }
	sleep 0.05
done
echo 0 0 > "$dir/rss.peak"
sample_rss "$mpid" "$dir/rss.peak" &
sampler=$!

# in the background, so that a signal reaches the trap without waiting for it
t0=$(now)
smtp-source -s "$S" -m "$M" -l "$SZ" -f bench@example.test -t alice@example.test 127.0.0.1:$PORT &
source_pid=$!
wait "$source_pid"
source_pid=
t1=$(now)
end=$(( $(date +%s) + DEADLINE ))
while [ "$(count_delivered)" -lt "$M" ]; do
	[ "$(date +%s)" -gt "$end" ] && {
		diagnose "only $(count_delivered) of $M delivered after ${DEADLINE}s"; exit 1; }
	sleep 0.05
done
t2=$(now)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
sampler=
peak=$(cat "$dir/rss.peak")

if [ $quiet = 1 ]; then
	echo "$t0 $t1 $t2 $peak" | awk -v m="$M" \
		'{printf "%.1f %.1f %d %d\n", m / ($2 - $1), m / ($3 - $1), $4, $5}'
else
	echo "sessions=$S messages=$M size=$SZ ($(postconf -c "$conf" -h mail_version 2>/dev/null || echo '?'))"
	echo "$t0 $t1 $t2 $peak" | awk -v m="$M" '{
		printf "postfix accepted (fsync'"'"'d)    : %.1f msg/s\n", m / ($2 - $1)
		printf "postfix delivered to Maildir  : %.1f msg/s (accept start to last delivery)\n", m / ($3 - $1)
		printf "postfix peak RSS              : %d KiB (sum over its processes)\n", $4
		printf "postfix peak PSS              : %d KiB (sum, shared pages divided)\n", $5 }'
fi
