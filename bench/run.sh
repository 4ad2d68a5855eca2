#!/usr/bin/env bash
# Runs one redchat-bench scenario against a fresh private redis-server and redchat-server (both
# on free loopback ports, stopped afterwards) and prints the tool's JSON line. The numbers in
# bench/RESULTS.md come from this script:
#   bench/run.sh [--server-threads N] [--server-args "..."] <scenario> [redchat-bench flags...]
# Environment: BUILD (default build/release): where redchat-bench (and the server) are;
# SERVER_BUILD (default BUILD): another build's redchat-server, for side-by-side runs.
# SERVER_CPUS, TOOL_CPUS (taskset lists, e.g. 0 and 1): pin Redis and the server, and the tool,
# to those cores, to see what sharing the cores costs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build=${BUILD:-$root/build/release}
server_build=${SERVER_BUILD:-$build}
server_threads=2
server_args=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --server-threads) server_threads=$2; shift 2 ;;
    --server-args) server_args=$2; shift 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { echo "usage: $0 [--server-threads N] [--server-args ARGS] <scenario> [flags]" >&2; exit 2; }

server_pin=()
[[ -n ${SERVER_CPUS:-} ]] && server_pin=(taskset -c "$SERVER_CPUS")
tool_pin=()
[[ -n ${TOOL_CPUS:-} ]] && tool_pin=(taskset -c "$TOOL_CPUS")
work=$(mktemp -d)
cleanup() {
  [[ -n ${server_pid:-} ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n ${redis_pid:-} ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"${server_pin[@]}" redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 100); do [[ -S $work/redis.sock ]] && break; sleep 0.05; done

# shellcheck disable=SC2086
"${server_pin[@]}" "$server_build/redchat-server" --port 0 --redis-url "unix://$work/redis.sock" --threads "$server_threads" \
  "${bench_server_flags[@]}" $server_args 2> "$work/server.log" &
server_pid=$!
port=$(server_port "$work/server.log") || exit 2

"${tool_pin[@]}" "$build/redchat-bench" "$@" --url "http://127.0.0.1:$port" --server-pid "$server_pid" --redis-pid "$redis_pid"
