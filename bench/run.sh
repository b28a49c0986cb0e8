#!/bin/bash
# bench/run.sh - throughput and peak memory of mailport serve with local
# delivery on, driven by Postfix's smtp-source, next to smtp-sink (a
# protocol-only sink that stores nothing) as the machine's ceiling and a
# throwaway Postfix instance (bench/postfix.sh) with the same load and its
# default durability.
#
#   bench/run.sh [SESSIONS] [MESSAGES] [SIZE_BYTES] [ROUNDS]
#
# Runs ROUNDS rounds of sink, mailport and Postfix and prints the medians.
# Loopback only.  Needs build/mailport (make), smtp-source and smtp-sink; the
# Postfix round needs root and postfix installed (else it is skipped, or
# BENCH_POSTFIX=0 skips it).  BENCH_SERVER_EXTRA: lines added to mailport's
# [server] section (e.g. "seccomp = no" for an A/B run).
set -eu
S=${1:-50}
M=${2:-5000}
SZ=${3:-2048}
R=${4:-3}
BIN=${MAILPORT_BIN:-build/mailport}
PORT=${BENCH_PORT:-2790}
SINKPORT=$((PORT + 1))
PFXPORT=$((PORT + 2))
PFXBENCH=$(dirname "$0")/postfix.sh
PFX=${BENCH_POSTFIX:-1}
if [ "$PFX" = 1 ] && { [ "$(id -u)" != 0 ] || ! command -v postfix >/dev/null; }; then
	echo "postfix round skipped: needs root and postfix" >&2
	PFX=0
fi
work=$(mktemp -d /tmp/mailport-bench.XXXXXX)
chmod 0755 "$work"
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

now() { date +%s.%N; }

wait_port() {
	local tries=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; do
		tries=$((tries + 1)); [ $tries -gt 200 ] && { echo "port $1 not up" >&2; exit 1; }
		sleep 0.05
	done
}

count_delivered() {
	find "$work/mail" -path '*/new/*' -type f 2>/dev/null | wc -l
}

run_sink() {
	local t0 t1
	smtp-sink $( [ "$(id -u)" = 0 ] && echo "-u nobody" ) -c 127.0.0.1:$SINKPORT 256 >/dev/null 2>&1 &
	echo $! > "$work/sink.pid"
	wait_port $SINKPORT
	t0=$(now)
	smtp-source -s "$S" -m "$M" -l "$SZ" -f bench@example.test -t alice@example.test 127.0.0.1:$SINKPORT
	t1=$(now)
	kill "$(cat "$work/sink.pid")"; rm -f "$work/sink.pid"
	echo "$t0 $t1" | awk -v m="$M" '{printf "%.1f\n", m / ($2 - $1)}'
}

run_mailport() {
	local t0 t1 t2 pid hwm
	rm -rf "$work/spool" "$work/mail"
	cat > "$work/bench.conf" <<CONF
[server]
hostname = bench.example.test
listen = 127.0.0.1:$PORT
spool = $work/spool
max_connections_per_ip = 1000
${BENCH_SERVER_EXTRA:-}
[local]
domains = example.test
mailboxes = $work/mail
CONF
	"$BIN" serve -c "$work/bench.conf" 2>"$work/mailport.log" &
	echo $! > "$work/mp.pid"
	wait_port $PORT
	t0=$(now)
	smtp-source -s "$S" -m "$M" -l "$SZ" -f bench@example.test -t alice@example.test 127.0.0.1:$PORT
	t1=$(now)
	while [ "$(count_delivered)" -lt "$M" ]; do sleep 0.05; done
	t2=$(now)
	pid=$(cat "$work/mp.pid")
	# the parent and its worker (privilege separation): both peaks summed
	hwm=$(cat /proc/$pid/status /proc/$(pgrep -P "$pid" | head -n 1)/status 2>/dev/null |
		awk '/VmHWM/ {s += $2} END {print s}')
	kill "$pid"; wait "$pid" 2>/dev/null || true; rm -f "$work/mp.pid"
	echo "$t0 $t1 $t2 $hwm" | awk -v m="$M" '{printf "%.1f %.1f %d\n", m / ($2 - $1), m / ($3 - $1), $4}'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

: > "$work/sink.txt"; : > "$work/acc.txt"; : > "$work/del.txt"; : > "$work/mem.txt"
: > "$work/pacc.txt"; : > "$work/pdel.txt"; : > "$work/prss.txt"; : > "$work/ppss.txt"
round=0
while [ $round -lt "$R" ]; do
	run_sink >> "$work/sink.txt"
	set -- $(run_mailport)
	echo "$1" >> "$work/acc.txt"; echo "$2" >> "$work/del.txt"; echo "$3" >> "$work/mem.txt"
	if [ "$PFX" = 1 ]; then
		set -- $(POSTFIX_PORT=$PFXPORT "$PFXBENCH" -q "$S" "$M" "$SZ")
		[ $# = 4 ] || { echo "postfix round failed" >&2; exit 1; }
		echo "$1" >> "$work/pacc.txt"; echo "$2" >> "$work/pdel.txt"
		echo "$3" >> "$work/prss.txt"; echo "$4" >> "$work/ppss.txt"
	fi
	round=$((round + 1))
done
sink=$(median < "$work/sink.txt"); acc=$(median < "$work/acc.txt")
del=$(median < "$work/del.txt"); mem=$(median < "$work/mem.txt")
echo "sessions=$S messages=$M size=$SZ rounds=$R"
echo "smtp-sink (no storage)        : $sink msg/s (median)"
echo "mailport accepted (fsync'd)   : $acc msg/s (median)"
echo "mailport delivered to Maildir : $del msg/s (median, accept start to last delivery)"
echo "mailport peak RSS             : $mem KiB (median VmHWM, parent + worker)"
echo "$acc $sink" | awk '{printf "mailport/sink ratio           : %.2f\n", $1 / $2}'
[ "$PFX" = 1 ] || exit 0
pacc=$(median < "$work/pacc.txt"); pdel=$(median < "$work/pdel.txt")
prss=$(median < "$work/prss.txt"); ppss=$(median < "$work/ppss.txt")
echo "postfix accepted (fsync'd)    : $pacc msg/s (median)"
echo "postfix delivered to Maildir  : $pdel msg/s (median, accept start to last delivery)"
echo "postfix peak RSS              : $prss KiB (median of the peak sum over its processes; PSS $ppss KiB)"
echo "$acc $pacc $del $pdel" |
	awk '{printf "mailport/postfix ratio        : %.2f accepted, %.2f delivered\n", $1 / $2, $3 / $4}'
