#!/bin/bash
# bench/relay.sh - relay throughput of mailport next to a throwaway Postfix
# instance relaying the same load, both to smtp-sink, in one run.
#
#   bench/relay.sh [MESSAGES] [ROUNDS] [SIZE_BYTES] [SESSIONS] [DOMAINS]
#
# Defaults: 10000 messages of 4096 bytes, 3 rounds, 50 injecting sessions,
# recipients spread evenly over 4 domains (d1.test ... dN.test, 1-9).  Each
# round runs, one after the other (never at the same time: the machine has
# two cores; mailport and Postfix take turns going first), per mode:
#   smarthost  mailport with `[relay] smarthost = [127.0.0.2]:P`, and
#              Postfix with `relayhost = [127.0.0.3]:P2`, each to one sink
#   mx         mailport routing by MX through a dnsmasq on 127.0.0.153
#              (dK.test MX 10 mx.dK.test, mx.dK.test A 127.0.0.(1+K)) with
#              `[smtp] port = P`, one smtp-sink per MX host; Postfix with a
#              transport map dK.test -> smtp:[127.0.0.(1+K)]:P to the same
#              kind of sinks (Postfix cannot be pointed at another DNS
#              server without changing /etc/resolv.conf, so this is its
#              per-domain equivalent)
# BENCH_MODES (default "smarthost mx") picks the modes.  Every relay gets a
# fresh spool/queue and fresh sinks.  The load is injected by smtp-source,
# one process per domain (SESSIONS/DOMAINS sessions each, one message and
# one recipient per connection, as smtp-source does).
#
# Measured per run, medians printed per relay and mode:
#   msg/s       MESSAGES / (first smtp-source connection .. the sinks'
#               message counters, `smtp-sink -c`, summed, reach MESSAGES;
#               polled every 50 ms)
#   accept/s    MESSAGES / (first connection .. the last smtp-source ends)
#   conns       sessions the sinks saw, read after the relay has stopped
#               (so connections still cached at the end count too)
#   cpu/1k      CPU-seconds (user+sys) of the relay's processes per 1000
#               messages between injection start and the last delivery:
#               /proc/PID/stat utime+stime+cutime+cstime of mailport; for
#               Postfix of its master (whose cutime/cstime hold the
#               children it reaped) plus every live child
#   rss         peak of the summed VmRSS of the relay's processes, sampled
#               every 0.5 s (the same sampler for both); PSS beside it
#               (shared pages divided among the processes); mailport's own
#               VmHWM too
# A run fails (exit 1, with the relay's log tail) when the sinks do not see
# every message within BENCH_DEADLINE seconds (default 600), when they see
# more than MESSAGES (duplicates), or when the relay's queue is not empty at
# the end.
#
# Loopback only: unless BENCH_NETNS=0 the whole script re-runs itself in a
# private network namespace (`unshare --net`) in which only lo exists, so
# nothing can leave the machine and no port collides with other jobs.  All
# processes are started by this script and stopped on exit (trap); the
# Postfix instances live under the work dir (/etc/postfix and the system's
# Postfix are never touched).  Needs root, an optimised mailport
# (MAILPORT_BIN, default build/mailport), smtp-source, smtp-sink, postfix,
# postconf and dnsmasq.  BENCH_KEEP=1 keeps the work dir.
set -eu

if [ "${BENCH_NETNS:-1}" = 1 ] && [ -z "${RELAY_BENCH_IN_NETNS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "relay.sh: must run as root" >&2; exit 1; }
	export RELAY_BENCH_IN_NETNS=1
	exec unshare --net -- /bin/bash -c 'ip link set lo up && exec /bin/bash "$@"' \
		relay.sh "$0" "$@"
fi

M=${1:-10000}
R=${2:-3}
SZ=${3:-4096}
S=${4:-50}
D=${5:-4}
BIN=${MAILPORT_BIN:-build/mailport}
MODES=${BENCH_MODES:-smarthost mx}
DEADLINE=${BENCH_DEADLINE:-600}
DNSIP=127.0.0.153

[ "$(id -u)" = 0 ] || { echo "relay.sh: must run as root" >&2; exit 1; }
for c in smtp-source smtp-sink postfix postconf ip; do
	command -v $c >/dev/null || { echo "relay.sh: $c not found" >&2; exit 1; }
done
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || { echo "relay.sh: dnsmasq not found" >&2; exit 1; }
[ -x "$BIN" ] || { echo "relay.sh: $BIN not found (make, or MAILPORT_BIN=)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ "$D" -ge 1 ] && [ "$D" -le 9 ] || { echo "relay.sh: DOMAINS must be 1-9" >&2; exit 1; }

HZ=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/mailport-relay.XXXXXX)
chmod 0755 "$work"
pids=""		# every background process this script started
pfconf=""	# the running Postfix instance's config dir

# cleanup - stop every process this script started, by pid, and the
# Postfix instance (its master is a process group leader), then the work dir
cleanup() {
	local p m tries=0
	set +e
	for p in $pids; do kill "$p" 2>/dev/null; done
	if [ -n "$pfconf" ]; then
		m=$(pf_master)
		postfix -c "$pfconf" stop >/dev/null 2>&1
		while [ -n "$m" ] && [ -d "/proc/$m" ] && [ $tries -lt 100 ]; do
			sleep 0.1; tries=$((tries + 1))
		done
		[ -n "$m" ] && [ -d "/proc/$m" ] && kill -9 -- "-$m" 2>/dev/null
	fi
	for p in $pids; do
		tries=0
		while alive "$p" && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
		alive "$p" && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "relay.sh: kept $work" >&2; else rm -rf "$work"; fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }

# alive PID - the process exists and is not a zombie waiting to be reaped
alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# bg_started PID - remember a background process for cleanup
bg_started() { pids="$pids $1"; }

# bg_stop PID - stop one of our background processes and wait for it
bg_stop() {
	local p=$1 tries=0 q=""
	kill "$p" 2>/dev/null || true
	while alive "$p" && [ $tries -lt 300 ]; do sleep 0.05; tries=$((tries + 1)); done
	alive "$p" && kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null || true
	for q in $pids; do [ "$q" = "$p" ] || echo -n " $q"; done > "$work/pids.tmp"
	pids=$(cat "$work/pids.tmp")
}

# free_port IP - a TCP and UDP port that is free on IP
free_port() {
	python3 - "$1" <<'PY'
import socket, sys
while True:
    t = socket.socket()
    t.bind((sys.argv[1], 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((sys.argv[1], port))
    except OSError:
        continue
    print(port)
    break
PY
}

# wait_port IP PORT - until a TCP socket listens there (10 s at most);
# looks at the socket table, never connects (a probe would count as a
# session at the sinks)
wait_port() {
	local tries=0
	while [ -z "$(ss -Hltn "src $1:$2" 2>/dev/null)" ]; do
		tries=$((tries + 1))
		[ $tries -gt 200 ] && { echo "relay.sh: $1:$2 not up" >&2; return 1; }
		sleep 0.05
	done
}

# ---- sinks ----

# start_sinks NAME IP:PORT... - one smtp-sink per address, counting (-c)
start_sinks() {
	local name=$1 a i=0
	shift
	sinks=""
	for a in "$@"; do
		i=$((i + 1))
		smtp-sink -u nobody -c "$a" 256 > "$work/sink.$name.$i" 2>&1 &
		bg_started $!
		sinks="$sinks $!:$work/sink.$name.$i"
		wait_port "${a%:*}" "${a##*:}"
	done
}

# sink_last FILE - the last complete counter record of one sink:
# "sess quit mesg" (records end with CR; a partly written one is skipped)
sink_last() {
	local s
	s=$(tail -c 300 "$1" 2>/dev/null) || s=""
	case "$s" in *$'\r'*) ;; *) echo "0 0 0"; return ;; esac
	s=${s%$'\r'*}
	s=${s##*$'\r'}
	set -- ${s//=/ }
	echo "${2:-0} ${4:-0} ${6:-0}"
}

# sinks_total - "sessions messages" summed over the running sinks
sinks_total() {
	local e ns=0 nm=0
	for e in $sinks; do
		set -- $(sink_last "${e#*:}")
		ns=$((ns + $1)); nm=$((nm + $3))
	done
	echo "$ns $nm"
}

stop_sinks() {
	local e
	for e in $sinks; do bg_stop "${e%%:*}"; done
	sinks=""
}

# ---- measuring ----

# tree_pids ROOT - ROOT and its children
tree_pids() {
	echo "$1 $(cat "/proc/$1/task/"*/children 2>/dev/null || true)"
}

# tree_cpu ROOT - clock ticks (utime+stime+cutime+cstime) of ROOT and its
# live children; the ones that exited and were reaped are in ROOT's c*time
tree_cpu() {
	local p
	for p in $(tree_pids "$1"); do
		cat "/proc/$p/stat" 2>/dev/null || true
	done | sed 's/^.*) //' | awk '{t += $12 + $13 + $14 + $15} END {print t + 0}'
}

# sampler ROOT OUT - peaks of the summed VmRSS and Pss of ROOT and its
# children into OUT ("RSS PSS", KiB), every 0.5 s while ROOT lives
sampler() {
	local m=$1 out=$2 peak=0 ppeak=0 p
	while alive "$m"; do
		set -- $(for p in $(tree_pids "$m"); do
			cat "/proc/$p/status" "/proc/$p/smaps_rollup" 2>/dev/null || true
		done | awk '/^VmRSS:/ {r += $2} /^Pss:/ {p += $2} END {print r + 0, p + 0}')
		[ "$1" -gt "$peak" ] && peak=$1
		[ "$2" -gt "$ppeak" ] && ppeak=$2
		echo "$peak $ppeak" > "$out.new" && mv "$out.new" "$out"
		sleep 0.5
	done
}

# inject PORT - the load: one smtp-source per domain, in parallel; returns
# when all are done (fails when one fails)
inject() {
	local k=1 m s src="" p rc=0
	s=$(( (S + D - 1) / D ))
	while [ $k -le "$D" ]; do
		m=$(( M / D + (k <= M % D ? 1 : 0) ))
		smtp-source -s "$s" -m "$m" -l "$SZ" -f bench@example.test \
			-t "user$k@d$k.test" "127.0.0.1:$1" &
		bg_started $!
		src="$src $!"
		k=$((k + 1))
	done
	for p in $src; do
		wait "$p" || rc=1
		bg_stop "$p"
	done
	return $rc
}

# measure NAME ROOTPID PORT LOG - inject, wait for every message at the
# sinks; writes "T0 T1 T2 CPUTICKS" to $work/measure.out and leaves the
# sampler ($samp) running
measure() {
	local name=$1 root=$2 port=$3 log=$4 c0 c1 t0 t1 t2 end n
	echo "0 0" > "$work/rss.$name"
	sampler "$root" "$work/rss.$name" &
	bg_started $!
	samp=$!
	c0=$(tree_cpu "$root")
	t0=$(now)
	inject "$port" || { diagnose "$name: smtp-source failed" "$log"; return 1; }
	t1=$(now)
	end=$(( $(date +%s) + DEADLINE ))
	while :; do
		set -- $(sinks_total)
		n=$2
		[ "$n" -ge "$M" ] && break
		[ "$(date +%s)" -gt "$end" ] && {
			diagnose "$name: only $n of $M at the sinks after ${DEADLINE}s" "$log"; return 1; }
		sleep 0.05
	done
	t2=$(now)
	c1=$(tree_cpu "$root")
	echo "$t0 $t1 $t2 $((c1 - c0))" > "$work/measure.out"
}

# diagnose WHAT LOG - say what went wrong, with the relay's log tail
diagnose() {
	echo "relay.sh: $1" >&2
	tail -n 30 "$2" >&2 2>/dev/null || true
}

# result NAME MODE T0 T1 T2 TICKS CONNS HWM - one line in results.txt
result() {
	local rss
	rss=$(cat "$work/rss.$1")
	echo "$3 $4 $5 $6 $7 $8 $rss" | awk -v m="$M" -v hz="$HZ" -v who="$1" -v mode="$2" '{
		printf "%s %s %.1f %.1f %d %.3f %d %d %d\n", who, mode, m / ($3 - $1),
		m / ($2 - $1), $5, $4 / hz / (m / 1000), $7, $8, $6 }' >> "$work/results.txt"
	tail -n 1 "$work/results.txt" | awk '{printf "  %-8s %-9s %8.1f msg/s  accept %7.1f/s  conns %5d  cpu %.3f s/1k  rss %d KiB (pss %d)\n",
		$1, $2, $3, $4, $5, $6, $7, $8}' >&2
}

# ---- dnsmasq ----

start_dns() {
	local k=1 args=""
	DNSPORT=$(free_port $DNSIP)
	while [ $k -le "$D" ]; do
		args="$args --mx-host=d$k.test,mx.d$k.test,10 --host-record=mx.d$k.test,127.0.0.$((1 + k))"
		k=$((k + 1))
	done
	"$DNSMASQ" --no-resolv --no-hosts --conf-file=/dev/null --keep-in-foreground \
		--bind-interfaces --listen-address=$DNSIP --port="$DNSPORT" \
		--user=root --group=root --local=/test/ --log-facility="$work/dnsmasq.log" \
		$args &
	bg_started $!
	dnspid=$!
	wait_port $DNSIP "$DNSPORT"
}

# ---- mailport ----

# run_mailport MODE - one mailport run (fresh spool, fresh sinks)
run_mailport() {
	local mode=$1 port sp dir=$work/mp pid out hwm k=1 addrs="" left sent
	rm -rf "$dir"; mkdir -p "$dir"; chmod 0755 "$dir"
	port=$(free_port 127.0.0.1)
	sp=$(free_port 127.0.0.2)
	if [ "$mode" = smarthost ]; then
		addrs=127.0.0.2:$sp
	else
		while [ $k -le "$D" ]; do addrs="$addrs 127.0.0.$((1 + k)):$sp"; k=$((k + 1)); done
	fi
	start_sinks "mp-$mode" $addrs
	{
		echo "[server]"
		echo "hostname = relay-bench.example.test"
		echo "listen = 127.0.0.1:$port"
		echo "spool = $dir/spool"
		echo "max_connections_per_ip = 1000"
		echo "[local]"
		echo "domains = example.test"
		echo "mailboxes = $dir/mail"
		echo "[relay]"
		echo "networks = 127.0.0.0/8"
		[ "$mode" = smarthost ] && echo "smarthost = [127.0.0.2]:$sp"
		echo "[dns]"
		echo "servers = $DNSIP:$DNSPORT"
		echo "[smtp]"
		echo "port = $sp"
	} > "$dir/mailport.conf"
	"$BIN" serve -c "$dir/mailport.conf" 2> "$dir/mailport.log" &
	bg_started $!
	pid=$!
	wait_port 127.0.0.1 "$port" || { diagnose "mailport did not start" "$dir/mailport.log"; return 1; }
	measure mailport "$pid" "$port" "$dir/mailport.log" || return 1
	out=$(cat "$work/measure.out")
	# the parent and its worker (privilege separation): both peaks summed
	hwm=$(for p in $(tree_pids "$pid"); do cat "/proc/$p/status" 2>/dev/null; done |
		awk '/^VmHWM:/ {s += $2} END {print s + 0}')
	sleep 1		# late duplicates would show up here
	bg_stop "$pid"
	bg_stop "$samp"
	sleep 0.5
	set -- $out $(sinks_total)
	stop_sinks
	if [ "$6" != "$M" ]; then
		diagnose "mailport $mode: the sinks saw $6 messages for $M sent" "$dir/mailport.log"
		return 1
	fi
	left=$(find "$dir/spool/queue" -type f 2>/dev/null | wc -l)
	sent=$(grep -c 'status=sent' "$dir/mailport.log" || true)
	if [ "$left" != 0 ] || [ "$sent" != "$M" ]; then
		diagnose "mailport $mode: $left files left in the queue, $sent sent in the log" "$dir/mailport.log"
		return 1
	fi
	result mailport "$mode" "$1" "$2" "$3" "$4" "$5" "$hwm"
}

# ---- Postfix ----

# pf_master - pid of the running instance's master, empty when none
pf_master() {
	local p
	p=$(awk '{print $1; exit}' "$pfdir/spool/pid/master.pid" 2>/dev/null) || return 0
	[ -n "$p" ] && [ -d "/proc/$p" ] && echo "$p"
	return 0
}

# pf_config MODE SINKPORT - main.cf, master.cf (and the transport map) of a
# throwaway relaying instance on 127.0.0.1:$pfport
pf_config() {
	local mode=$1 sp=$2 k=1
	mkdir -p "$pfdir/etc" "$pfdir/spool" "$pfdir/data"
	chown postfix:postfix "$pfdir/data"
	cat > "$pfdir/etc/main.cf" <<CF
compatibility_level = 3.6
config_directory = $pfdir/etc
queue_directory = $pfdir/spool
data_directory = $pfdir/data
maillog_file = $pfdir/maillog
maillog_file_prefixes = $pfdir
myhostname = postfix-relay.example.test
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
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
CF
	if [ "$mode" = smarthost ]; then
		echo "relayhost = [127.0.0.3]:$sp" >> "$pfdir/etc/main.cf"
	else
		while [ $k -le "$D" ]; do
			echo "d$k.test smtp:[127.0.0.$((1 + k))]:$sp"
			k=$((k + 1))
		done > "$pfdir/etc/transport"
		echo "transport_maps = texthash:$pfdir/etc/transport" >> "$pfdir/etc/main.cf"
	fi
	# Only the services this load needs; no chroot (column 5 = n), and
	# smtpd on a loopback port instead of *:25.
	cat > "$pfdir/etc/master.cf" <<CF
127.0.0.1:$pfport inet n - n - - smtpd
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
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CF
}

# run_postfix MODE - one Postfix run (fresh instance, fresh sinks)
run_postfix() {
	local mode=$1 sp m out left k=1 addrs="" tries=0
	pfdir=$work/pf
	rm -rf "$pfdir"; mkdir -p "$pfdir"; chmod 0755 "$pfdir"
	pfport=$(free_port 127.0.0.1)
	sp=$(free_port 127.0.0.3)
	if [ "$mode" = smarthost ]; then
		addrs=127.0.0.3:$sp
	else
		while [ $k -le "$D" ]; do addrs="$addrs 127.0.0.$((1 + k)):$sp"; k=$((k + 1)); done
	fi
	start_sinks "pf-$mode" $addrs
	pf_config "$mode" "$sp"
	pfconf=$pfdir/etc
	postconf -c "$pfconf" -h mail_version > "$work/pfversion" 2>/dev/null || true
	postfix -c "$pfconf" check >/dev/null 2>&1 || true	# creates the queue dirs
	postfix -c "$pfconf" start >/dev/null 2>&1 || { diagnose "postfix start failed" "$pfdir/maillog"; return 1; }
	m=$(pf_master)
	[ -n "$m" ] || { diagnose "postfix: no master pid" "$pfdir/maillog"; return 1; }
	wait_port 127.0.0.1 "$pfport" || { diagnose "postfix did not listen" "$pfdir/maillog"; return 1; }
	measure postfix "$m" "$pfport" "$pfdir/maillog" || return 1
	out=$(cat "$work/measure.out")
	sleep 1
	postfix -c "$pfconf" stop >/dev/null 2>&1 || true
	while [ -d "/proc/$m" ] && [ $tries -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
	[ -d "/proc/$m" ] && kill -9 -- "-$m" 2>/dev/null
	pfconf=""
	bg_stop "$samp"
	sleep 0.5
	set -- $out $(sinks_total)
	stop_sinks
	if [ "$6" != "$M" ]; then
		diagnose "postfix $mode: the sinks saw $6 messages for $M sent" "$pfdir/maillog"
		return 1
	fi
	left=$(find "$pfdir/spool/incoming" "$pfdir/spool/active" "$pfdir/spool/deferred" \
		"$pfdir/spool/maildrop" -type f 2>/dev/null | wc -l)
	[ "$left" = 0 ] || { diagnose "postfix $mode: $left files left in the queue" "$pfdir/maillog"; return 1; }
	result postfix "$mode" "$1" "$2" "$3" "$4" "$5" 0
}

# ---- main ----

median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print 0}'; }

# col WHO MODE N - the medians of column N of results.txt for that relay/mode
col() { awk -v w="$1" -v m="$2" -v n="$3" '$1 == w && $2 == m {print $n}' "$work/results.txt" | median; }

: > "$work/results.txt"
start_dns	# mailport's only DNS server, in every mode
echo "relay.sh: $M messages of $SZ bytes, $S sessions, $D domains, $R rounds, modes: $MODES" >&2
round=1
while [ $round -le "$R" ]; do
	echo "round $round" >&2
	for mode in $MODES; do
		# who goes first alternates, so a drift in the machine's load
		# does not favour one side
		if [ $((round % 2)) = 1 ]; then
			run_mailport "$mode" || exit 1
			run_postfix "$mode" || exit 1
		else
			run_postfix "$mode" || exit 1
			run_mailport "$mode" || exit 1
		fi
	done
	round=$((round + 1))
done

echo "messages=$M size=$SZ sessions=$S domains=$D rounds=$R (postfix $(cat "$work/pfversion" 2>/dev/null))"
for mode in $MODES; do
	for who in mailport postfix; do
		set -- $(col $who "$mode" 3) $(col $who "$mode" 4) $(col $who "$mode" 5) \
			$(col $who "$mode" 6) $(col $who "$mode" 7) $(col $who "$mode" 8) $(col $who "$mode" 9)
		printf "%-8s %-9s: %7.1f msg/s delivered, %7.1f msg/s accepted, %5d connections, %.3f CPU-s/1k msgs, peak RSS %d KiB (PSS %d%s)\n" \
			"$who" "$mode" "$1" "$2" "$3" "$4" "$5" "$6" \
			"$( [ "$who" = mailport ] && echo ", VmHWM $7" )"
	done
	echo "$(col mailport "$mode" 3) $(col postfix "$mode" 3) $(col mailport "$mode" 6) $(col postfix "$mode" 6) $(col mailport "$mode" 5) $(col postfix "$mode" 5)" |
		awk -v mode="$mode" '{printf "mailport/postfix %-9s: %.2fx the msg/s; Postfix needs %.2fx the CPU per message; connections %d vs %d\n",
			mode, $1 / $2, $4 / $3, $5, $6}'
done
echo "per run (who mode msg/s accept/s conns cpu-s/1k rss-kib pss-kib vmhwm-kib):"
sed 's/^/  /' "$work/results.txt"
