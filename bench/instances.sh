#!/usr/bin/env bash
# Routing by room across instances: N redchat instances on one Redis (or, with --cluster, on a
# Redis Cluster of 3 masters and 3 replicas), each with its own redchat-bench running the rooms
# scenario on users and pairs of its own (so every room lives on one instance), side by side.
# Prints each tool's JSON line, then one summary line: messages stored per second in all, and
# the bus messages each instance received against the messages stored in all (with routing, an
# instance should receive about what its own users need).
#   bench/instances.sh [--instances N] [--tutorial-bus on|off] [--server-threads T]
#                      [--cluster] [--server-args "<more redchat-server flags>"] <rooms flags...>
# Environment: BUILD (default build/release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build=${BUILD:-$root/build/release}
instances=3
tutorial_bus=off
server_threads=1
cluster=no
server_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --instances) instances=$2; shift 2 ;;
    --tutorial-bus) tutorial_bus=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --cluster) cluster=yes; shift ;;
    --server-args) read -r -a server_args <<< "$2"; shift 2 ;;
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

if [[ $cluster == no ]]; then
  redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
    --dir "$work" --logfile "$work/redis.log" &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 100); do [[ -S $work/redis.sock ]] && break; sleep 0.05; done
  redis_flags=(--redis-url "unix://$work/redis.sock" --tutorial-bus "$tutorial_bus")
  redis_cli() { redis-cli -s "$work/redis.sock" "$@"; }
  masters=(redis_cli)
else
  [[ $tutorial_bus == off ]] || { echo "--cluster has no tutorial bus: use --tutorial-bus off" >&2; exit 2; }
  # Six nodes made a cluster by hand, as tests/integration/harness.mjs does: epochs, a third of
  # the slots per master, every node met, then each replica attached to its master.
  node_ports=()
  for i in 0 1 2 3 4 5; do
    port=$(free_port) bus=$(free_port)
    mkdir "$work/node$i"
    (cd "$work/node$i" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --cluster-port "$bus" --repl-diskless-sync-delay 0 --logfile redis.log) &
    pids+=($!)
    node_ports+=("$port")
    bus_ports+=("$bus")
  done
  redis_pid=${pids[0]}
  on_node() { redis-cli -p "${node_ports[$1]}" "${@:2}"; }
  for i in 0 1 2 3 4 5; do until [[ $(on_node "$i" PING 2>/dev/null) == PONG ]]; do sleep 0.05; done; done
  for i in 0 1 2 3 4 5; do on_node "$i" CLUSTER SET-CONFIG-EPOCH $((i + 1)) > /dev/null; done
  on_node 0 CLUSTER ADDSLOTSRANGE 0 5460 > /dev/null
  on_node 1 CLUSTER ADDSLOTSRANGE 5461 10922 > /dev/null
  on_node 2 CLUSTER ADDSLOTSRANGE 10923 16383 > /dev/null
  for i in 1 2 3 4 5; do on_node 0 CLUSTER MEET 127.0.0.1 "${node_ports[$i]}" "${bus_ports[$i]}" > /dev/null; done
  for i in 3 4 5; do
    id=$(on_node $((i - 3)) CLUSTER MYID)
    until [[ $(on_node "$i" CLUSTER REPLICATE "$id" 2>/dev/null) == OK ]]; do sleep 0.05; done
  done
  for i in 0 1 2 3 4 5; do
    until on_node "$i" CLUSTER INFO | grep -q cluster_state:ok; do sleep 0.05; done
  done
  for i in 3 4 5; do
    until on_node "$i" INFO replication | grep -q master_link_status:up; do sleep 0.05; done
  done
  redis_flags=(--redis-cluster "127.0.0.1:${node_ports[0]},127.0.0.1:${node_ports[1]}")
  master0() { on_node 0 "$@"; }
  master1() { on_node 1 "$@"; }
  master2() { on_node 2 "$@"; }
  masters=(master0 master1 master2)
fi

ports=()
server_pids=()
for i in $(seq "$instances"); do
  "$build/redchat-server" --port 0 "${redis_flags[@]}" --threads "$server_threads" \
    "${bench_server_flags[@]}" "${server_args[@]}" 2> "$work/server$i.log" &
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
# Messages stored: every room's sorted set (room:<id> on one Redis, room:{<id>} on a cluster),
# counted on each master.
stored=$(for m in "${masters[@]}"; do
  "$m" --scan --pattern 'room:*' | grep -v ':name$' | sed 's/^/ZCARD /' | "$m"
done | awk '{ s += $1 } END { print s + 0 }')

cat "$work"/bench*.json
REDIS_KIND=$([[ $cluster == yes ]] && echo cluster || echo single) node -e '
const [instances, bus, stored, before, after, ...files] = process.argv.slice(1);
const fs = require("fs");
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8").trim().split("\n").pop()));
const received = after.split(" ").map((a, i) => Number(a) - Number(before.split(" ")[i]));
console.log(JSON.stringify({
  scenario: "rooms-instances", instances: Number(instances), tutorial_bus: bus, redis: process.env.REDIS_KIND,
  stored_per_s: runs.reduce((s, r) => s + (r.stored_per_s || 0), 0),
  stored_in_all: Number(stored),
  bus_received: received,
  bus_received_per_stored: received.map((r) => +(r / Number(stored)).toFixed(3)),
  server_cpu_us_per_message: runs.map((r) => r.server_cpu_us_per_message),
}));
' "$instances" "$tutorial_bus" "$stored" "${before[*]}" "${after[*]}" "$work"/bench*.json
