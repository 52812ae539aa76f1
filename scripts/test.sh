#!/usr/bin/env bash
# Runs every test suite and prints each runner's summary line. Exit status is
# non-zero if any suite failed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
BUILD=${BUILD:-build}
export RERUN_ANALYTICS=off
status=0
log=$BUILD/test-logs
mkdir -p "$log"

run() {  # name, command...: runs quietly, prints the summary line(s)
  local name=$1; shift
  if "$@" >"$log/$name.log" 2>&1; then :; else status=1; echo "== $name FAILED (log: $log/$name.log)"; tail -40 "$log/$name.log"; fi
}

# 0. Layering (DESIGN.md): which layer may include which.
run layers scripts/check-layers.sh; grep -E '^layers: ' "$log/layers.log"

# 1. C unit, API and fuzz-replay tests (ctest).
run ctest ctest --test-dir "$BUILD" --output-on-failure -j2
grep -E 'tests passed|tests failed' "$log/ctest.log" | tail -1 | sed 's/^/c: /'

# 2. The same C tests under ASan + UBSan.
if [ "${RR_SKIP_ASAN:-0}" != 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRR_ASAN=ON >/dev/null &&
  MAKEFLAGS= cmake --build build-asan -j2 >"$log/asan-build.log" 2>&1 || { status=1; echo "== asan build FAILED"; tail -40 "$log/asan-build.log"; }
  run ctest-asan env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j2
  grep -E 'tests passed|tests failed' "$log/ctest-asan.log" | tail -1 | sed 's/^/c (asan+ubsan): /'
fi

# 2b. The libFuzzer targets build with clang (-Werror: clang warns where gcc
# does not) and each runs briefly from its corpus (`make fuzz` for long runs).
if command -v clang >/dev/null && [ "${RR_SKIP_FUZZ:-0}" != 1 ]; then
  fuzz_smoke() {
    make -s fuzz || return 1
    local n=0 t
    for t in build-fuzz/fuzz/fuzz_*; do
      [ -x "$t" ] || continue
      local name=${t##*/} work
      work=$(mktemp -d)
      cp fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
      "$t" -max_total_time=10 -rss_limit_mb=4096 -artifact_prefix="$log/$name-" "$work" >"$log/$name.log" 2>&1 || { rm -rf "$work"; echo "$name crashed: $log/$name.log"; return 1; }
      rm -rf "$work"
      n=$((n + 1))
    done
    echo "fuzz: $n targets built with clang, 10 s each from their corpus, no crash"
  }
  run fuzz fuzz_smoke; grep -E '^fuzz: ' "$log/fuzz.log"
fi

run analytics /usr/bin/python3 tests/cli/analytics/run.py "$BUILD/rerun"; grep -E '^analytics: [0-9]+ passed' "$log/analytics.log"
run rrd-cli bash tests/cli/rrd/run.sh "$BUILD"; grep -E '^rrd-cli: [0-9]+ passed' "$log/rrd-cli.log"

run server-e2e /usr/bin/python3 tests/e2e/server/run.py "$BUILD"; grep -E '^server-e2e: [0-9]+ passed' "$log/server-e2e.log"

# 3. JavaScript cross-checks (apache-arrow as an independent reader/writer).
if ls tests/js/*.test.mjs >/dev/null 2>&1; then
  run js env RR_BUILD_DIR="$BUILD" node --test tests/js/
  grep -E '^# (pass|fail)' "$log/js.log" | tr '\n' ' ' | sed 's/^/js: /'; echo
fi

# 4. Official-viewer conformance of every example's output.
if [ -x scripts/conformance.sh ]; then
  run conformance scripts/conformance.sh
  grep -E 'passed, [0-9]+ failed' "$log/conformance.log" | tail -1
fi
exit $status
