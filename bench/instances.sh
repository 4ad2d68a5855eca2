#!/usr/bin/env bash
# Routing by room across instances: N redchat instances on one Redis, each with its own
# redchat-bench running the rooms scenario on users and pairs of its own (so every room lives on
# one instance), side by side. Prints each tool's JSON line, then one summary line: messages
# stored per second in all, and the bus messages each instance received against the messages
# stored in all (with routing, an instance should receive about what its own users need).
#   bench/instances.sh [--instances N] [--tutorial-bus on|off] [--server-threads T] <rooms flags...>
# Environment: BUILD (default build/release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build=${BUILD:-$root/build/release}
instances=3
tutorial_bus=off
server_threads=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --instances) instances=$2; shift 2 ;;
    --tutorial-bus) tutorial_bus=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    *) break ;;
  esac
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do [[ -S $work/redis.sock ]] && break; sleep 0.05; done

ports=()
server_pids=()
for i in $(seq "$instances"); do
  "$build/redchat-server" --port 0 --redis-url "unix://$work/redis.sock" --threads "$server_threads" \
    --tutorial-bus "$tutorial_bus" "${bench_server_flags[@]}" 2> "$work/server$i.log" &
  server_pids+=($!)
  pids+=($!)
  port=$(server_port "$work/server$i.log") || exit 2
  ports+=("$port")
done

bus_received() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk '$1 == "redchat_bus_messages_received_total" { print $2 }'
}

before=()
for port in "${ports[@]}"; do before+=("$(bus_received "$port")"); done
tools=()
for i in $(seq "$instances"); do
  "$build/redchat-bench" rooms "$@" --user-prefix "i${i}u" --url "http://127.0.0.1:${ports[$((i - 1))]}" \
    --server-pid "${server_pids[$((i - 1))]}" --redis-pid "$redis_pid" > "$work/bench$i.json" &
  tools+=($!)
done
for t in "${tools[@]}"; do wait "$t"; done
after=()
for port in "${ports[@]}"; do after+=("$(bus_received "$port")"); done
stored=$(redis-cli -s "$work/redis.sock" --scan --pattern 'room:*' | grep -v ':name$' |
  while read -r key; do redis-cli -s "$work/redis.sock" zcard "$key"; done | awk '{ s += $1 } END { print s + 0 }')

cat "$work"/bench*.json
node -e '
const [instances, bus, stored, before, after, ...files] = process.argv.slice(1);
const fs = require("fs");
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n").pop()));
const received = after.split(" ").map((a, i) => Number(a) - Number(before.split(" ")[i]));
console.log(JSON.stringify({
  scenario: "rooms-instances", instances: Number(instances), tutorial_bus: bus,
  stored_per_s: runs.reduce((s, r) => s + (r.stored_per_s || 0), 0),
  stored_in_all: Number(stored),
  bus_received: received,
  bus_received_per_stored: received.map((r) => +(r / Number(stored)).toFixed(3)),
  server_cpu_us_per_message: runs.map((r) => r.server_cpu_us_per_message),
}));
' "$instances" "$tutorial_bus" "$stored" "${before[*]}" "${after[*]}" "$work"/bench*.json
