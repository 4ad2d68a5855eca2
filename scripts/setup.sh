#!/usr/bin/env bash
# Installs every Debian package redchat needs to build, run and test. Safe to run many times:
# it only calls apt when something is missing. Nothing is downloaded from outside Debian and npm.
#
#   scripts/setup.sh          everything (build, run, tests, browser tests)
#   scripts/setup.sh --run    only what `make run` needs
set -euo pipefail

mode=all
[[ "${1:-}" == "--run" ]] && mode=run

run_pkgs=(
  build-essential g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libhiredis-dev libspdlog-dev libfmt-dev libcli11-dev libcrypt-dev libjemalloc-dev
  redis-server
)
test_pkgs=(
  clang-14 libclang-rt-14-dev googletest libgtest-dev libgmock-dev libbenchmark-dev
  chromium fonts-dejavu-core
  nginx
)

pkgs=("${run_pkgs[@]}")
[[ "$mode" == all ]] && pkgs+=("${test_pkgs[@]}")
# Node.js: any node already on the machine is used (Vite 7 needs >= 20.19); otherwise Debian's.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  # The 1.81 Boost packages conflict with the default 1.74 -dev packages: remove those first.
  if dpkg-query -W -f='${Status}' libboost1.74-dev 2>/dev/null | grep -q 'install ok installed'; then
    "${sudo_cmd[@]}" apt-get remove -y -qq libboost1.74-dev || true
  fi
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if command -v node >/dev/null 2>&1; then
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
    echo "setup: warning: node $(node --version) is older than 20.19, which Vite 7 (the web client) needs"
fi

# A packaged redis-server starts a system instance on 6379; we never use it, and tests pick
# their own ports, so leave it as the distribution configured it.
echo "setup: all packages present"
