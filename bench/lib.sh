# Shared by bench/run.sh and bench/instances.sh (sourced).

# The benchmark flags every redchat-server of a bench run gets (bench/README.md): cheap bcrypt,
# and every limit raised out of the way of the load.
bench_server_flags=(
  --demo-data off --bcrypt-cost 4 --max-connections-per-address 1000000
  --max-sockets-per-user 100000 --messages-per-second 100000 --message-burst 100000
  --registrations-per-minute 1000000 --max-pending-hashes 1000000 --log-level info
)

# Prints the port a starting redchat-server logged (its `event=listening url=...` line in the
# log file $1), waiting up to 10 s; fails with the log when it never came.
server_port() {
  local port=""
  for _ in $(seq 200); do
    port=$(grep -o 'url=http://127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://' || true)
    [[ -n $port ]] && { echo "$port"; return 0; }
    sleep 0.05
  done
  cat "$1" >&2
  return 2
}

# Prints a free loopback TCP port (for redis-server, which cannot be told to pick one and say it).
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
