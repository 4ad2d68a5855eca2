# The two commands of the README:
#   make run    set up what is missing, build, and run the server on http://localhost:8080
#   make test   build and run every test through ctest (release, ASan+UBSan, TSan, fuzz)
# Everything else here is a step of those two.

SHELL := /bin/bash
PORT ?= 8080
FUZZ_RUNS ?= 500000
FUZZ_SECONDS ?= 300
DATA_DIR ?= var/redis
NPM_CI := npm ci --no-audit --no-fund --loglevel=error

.PHONY: run test setup setup-run build build-asan build-tsan build-fuzz web test-deps test-release test-asan test-tsan test-fuzz fuzz chaos clean format tidy

run: setup-run build web
	@echo "redchat: starting on http://localhost:$(PORT)  (Ctrl-C stops the server and its Redis)"
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) exec ./build/release/redchat-server

test: setup build web test-deps test-release build-asan test-asan build-tsan test-tsan build-fuzz test-fuzz

setup:
	@bash scripts/setup.sh

setup-run:
	@bash scripts/setup.sh --run

build:
	@cmake --preset release >/dev/null
	@cmake --build --preset release

build-asan:
	@cmake --preset asan-ubsan >/dev/null
	@cmake --build --preset asan-ubsan

build-tsan:
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan

build-fuzz:
	@cmake --preset fuzz -DREDCHAT_FUZZ_RUNS=$(FUZZ_RUNS) >/dev/null
	@cmake --build --preset fuzz

# The web client, built into web/dist (which the server serves by default).
web:
	@cd web && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || $(NPM_CI); } && npm run --silent build

test-deps:
	@cd tests/integration && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || $(NPM_CI); }
	@cd web && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || $(NPM_CI); }

test-release:
	@cd build/release && ctest --output-on-failure --timeout 900

test-asan:
	@cd build/asan-ubsan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure --timeout 900

# The threaded core under ThreadSanitizer: the unit tests and the integration suite (two I/O
# threads, cross-thread polling and upgrades, shutdown) against the TSan binary. A race report
# makes the server exit non-zero, which the integration harness treats as a failure.
test-tsan:
	@cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure --timeout 900 -L 'unit|integration'

# Each fuzz target replays its corpus and past crashes, then explores FUZZ_RUNS inputs with a
# fixed seed: the same commit passes or fails the same way every time. The targets are
# independent and single-threaded: they run side by side, one per core.
test-fuzz:
	@cd build/fuzz && ctest --output-on-failure -L fuzz -j$$(nproc)

# Long exploration with random seeds (FUZZ_SECONDS per target, default 300; FUZZ_TARGETS to pick
# some). What adds coverage is merged into fuzz/corpus; failures land in fuzz/crashes.
FUZZ_TARGETS ?= $(notdir $(basename $(wildcard fuzz/*.cpp)))
fuzz: build-fuzz
	@for t in $(FUZZ_TARGETS); do \
	  fuzz/run.sh explore build/fuzz/fuzz/fuzz_$$t $$t $(FUZZ_SECONDS) || exit 1; done

# The chaos suite at length (tests/integration/chaos/README.md): bigger crowds, minutes of
# faults, against the release build (CHAOS_ONLY=<regex> picks scenarios).
chaos: setup build test-deps
	@cd tests/integration && CHAOS_SCALE=long REDCHAT_SERVER=$(CURDIR)/build/release/redchat-server \
	  node --test --test-reporter=spec chaos/run.mjs

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

tidy: build
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p build/release --quiet

clean:
	rm -rf build
