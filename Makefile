# Thin convenience wrapper around CMake; see README.md.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test test-c test-asan test-js test-conformance demo bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD) -j$(JOBS) >$(BUILD)/build.log 2>&1 || \
	  { grep -E 'error|warning' $(BUILD)/build.log | head -40; echo "build failed: see $(BUILD)/build.log" >&2; exit 1; }

# Every runner prints its own summary line.
test: build
	@scripts/test.sh

demo: build
	@scripts/demo.sh

bench: build
	@for b in $(BUILD)/bench/bench_*; do $$b || exit 1; done

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DRR_FUZZ=ON -DRR_ASAN=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) >/dev/null

clean:
	rm -rf build build-asan build-fuzz
