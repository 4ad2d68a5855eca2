#!/usr/bin/env bash
# Smoke test of redchat-bench (ctest label "bench"): a private redis-server on a unix socket and
# the real server on a free port, then every scenario for ~2 s at small sizes. Each must exit 0
# and print one JSON line with non-zero throughput and nothing dropped.
#
# Usage: smoke.sh <redchat-bench> <redchat-server> [redis-server]
set -euo pipefail

bench=${1:?usage: smoke.sh <redchat-bench> <redchat-server> [redis-server]}
server=${2:?usage: smoke.sh <redchat-bench> <redchat-server> [redis-server]}
redis=${3:-redis-server}

dir=$(mktemp -d "${TMPDIR:-/tmp}/redchat-bench-smoke.XXXXXX")
redis_pid=""
server_pid=""
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*" >&2
    for log in "$dir"/server.log "$dir"/redis.log; do
        [[ -f $log ]] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
    done
    exit 1
}

# Redis on a unix socket: no TCP port to choose.
"$redis" --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
    --logfile "$dir/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
    [[ -S $dir/redis.sock ]] && break
    sleep 0.05
done
[[ -S $dir/redis.sock ]] || fail "redis-server did not start"

# The server on port 0; it logs the port it got. Pings every 500 ms so that idle sees some.
"$server" --port 0 --redis-url "unix://$dir/redis.sock" --demo-data off --bcrypt-cost 4 \
    --threads 2 --max-connections-per-address 100000 --max-sockets-per-user 100000 \
    --messages-per-second 100000 --message-burst 100000 \
    --registrations-per-minute 1000000 --max-pending-hashes 1000000 \
    --ping-interval-ms 500 --ping-timeout-ms 2000 --log-level info 2>"$dir/server.log" &
server_pid=$!
url=""
for _ in $(seq 200); do
    url=$(sed -n 's|.*event=listening url=\(http://[^/ ]*\)/.*|\1|p' "$dir/server.log" | head -n 1)
    [[ -n $url ]] && break
    kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start"
    sleep 0.05
done
[[ -n $url ]] || fail "the server did not log its port"
echo "server at $url (pid $server_pid)"

# field <json> <name>: the number after "name":
field() {
    sed -n "s/.*\"$2\":\([-0-9.]*\).*/\1/p" <<<"$1"
}
# positive <json> <name>...: each field is a number > 0
positive() {
    local json=$1 name value
    shift
    for name in "$@"; do
        value=$(field "$json" "$name")
        [[ -n $value ]] || fail "no $name in: $json"
        awk -v v="$value" 'BEGIN { exit !(v > 0) }' || fail "$name is $value in: $json"
    done
}
# equals <json> <name> <value>
equals() {
    local value
    value=$(field "$1" "$2")
    [[ $value == "$3" ]] || fail "$2 is '$value', expected $3, in: $1"
}

run() {
    local name=$1 out status
    shift
    echo "== $name: $*"
    set +e
    out=$("$bench" "$name" --url "$url" --server-pid "$server_pid" --duration 2 --warmup 0.5 \
        --setup-timeout 20 "$@" 2>"$dir/bench.err")
    status=$?
    set -e
    echo "$out"
    [[ $status == 0 ]] || { cat "$dir/bench.err" >&2; fail "$name exited with $status"; }
    [[ $(wc -l <<<"$out") == 1 && $out == \{*\} ]] || fail "$name did not print one JSON line"
    result=$out
}

run fanout --receivers 20 --senders 2
positive "$result" acked_per_s deliveries_per_s server_cpu_s
equals "$result" errors 0
equals "$result" connect_failed 0
equals "$result" dropped 0

run fanout --receivers 20 --rate 200 --threads 2 --sources 3
positive "$result" acked_per_s deliveries_per_s
equals "$result" errors 0
equals "$result" dropped 0

run rooms --pairs 10
positive "$result" stored_per_s deliveries_per_s server_context_switches_per_message
equals "$result" errors 0
equals "$result" dropped 0

# 40 messages/s over 10 pairs: each socket reads 2 a second, under the server's read limit.
run receipts --pairs 10 --rate 40
positive "$result" stored_per_s reads_per_s receipts_per_s server_cpu_us_per_event
equals "$result" errors 0
equals "$result" dropped 0

run idle --connections 100
equals "$result" connected 100
equals "$result" dropped 0
positive "$result" pings_answered

run connect --connections 200
equals "$result" connected 200
equals "$result" dropped 0
positive "$result" connections_per_s

run frames --connections 4 --window 2000
positive "$result" frames_per_s server_cpu_ns_per_frame
equals "$result" ack_errors 0
equals "$result" dropped 0

run typing --pairs 20 --typing-every-ms 100
positive "$result" signals_per_s delivered_per_s
equals "$result" error_events 0
equals "$result" dropped 0

run history --connections 8
positive "$result" requests_per_s page_messages
equals "$result" errors 0

echo "bench smoke test passed"
