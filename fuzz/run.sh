#!/usr/bin/env bash
# Runs one libFuzzer target in one of two modes.
#
#   fuzz/run.sh check   BINARY NAME RUNS      (ctest, `make test`)
#     1. replays every input of fuzz/corpus/NAME and fuzz/crashes/NAME (past findings) once;
#     2. explores for exactly RUNS inputs with a fixed seed, from a fresh copy of the corpus,
#        so the same commit passes or fails the same way every time.
#
#   fuzz/run.sh explore BINARY NAME SECONDS   (`make fuzz`)
#     explores with a random seed for SECONDS, then merges what it found into fuzz/corpus/NAME;
#     a crashing input is written to fuzz/crashes/NAME/ (commit it with its fix).
set -euo pipefail

mode=$1 binary=$2 name=$3 bound=$4
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus/$name
crashes=$here/crashes/$name
common=(-timeout=5 -rss_limit_mb=1024 -print_final_stats=1)
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case "$mode" in
check)
  # Replay: each file once, in a fixed order.
  dirs=("$corpus")
  [[ -d "$crashes" ]] && dirs+=("$crashes")
  mapfile -t inputs < <(find "${dirs[@]}" -type f ! -name '.*' | LC_ALL=C sort)
  echo "fuzz_$name: replaying ${#inputs[@]} inputs"
  if ((${#inputs[@]})); then
    "$binary" "${common[@]}" -artifact_prefix="$work/" "${inputs[@]}" >"$work/replay.log" 2>&1 ||
      { cat "$work/replay.log"; echo "fuzz_$name: a stored input fails"; exit 1; }
  fi
  # Exploration: a fixed seed and a fixed number of runs, from a scratch copy of the corpus.
  mkdir "$work/corpus"
  cp -r "$corpus/." "$work/corpus/"
  echo "fuzz_$name: exploring $bound runs with seed 1"
  # Without address randomisation: libFuzzer learns values from comparisons, addresses among
  # them, and those must be the same every run for the exploration to be.
  norandom=()
  setarch "$(uname -m)" -R true 2>/dev/null && norandom=(setarch "$(uname -m)" -R)
  "${norandom[@]}" "$binary" "${common[@]}" -seed=1 -runs="$bound" -artifact_prefix="$work/" "$work/corpus" ||
    { echo "fuzz_$name: found a failing input; run it with: $binary <file>"; exit 1; }
  ;;
explore)
  mkdir -p "$work/corpus" "$crashes"
  echo "fuzz_$name: exploring for $bound s (random seed)"
  status=0
  "$binary" "${common[@]}" -max_total_time="$bound" -artifact_prefix="$crashes/" \
    "$work/corpus" "$corpus" || status=$?
  # Keep only inputs that add coverage.
  "$binary" -merge=1 "$corpus" "$work/corpus" >/dev/null 2>&1 || true
  if ((status)); then
    echo "fuzz_$name: FOUND A FAILURE, saved under fuzz/crashes/$name/"
    exit "$status"
  fi
  ;;
*)
  echo "usage: $0 check|explore BINARY NAME RUNS|SECONDS" >&2
  exit 2
  ;;
esac
