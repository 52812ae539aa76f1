#!/usr/bin/env bash
# Official-viewer conformance: every example's --save output is opened in the
# official Rerun 0.33 web viewer (../shared/conformance, headless Chromium)
# and must open with no error and the expected time range.
# Prints "conformance: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
cd "$here"
check="$BUILD/conformance/check.mjs"
[ -f "$check" ] || { echo "conformance: harness missing ($check); run scripts/install-deps.sh" >&2; exit 1; }
out="$BUILD/conformance-out"
mkdir -p "$out"
pass=0 fail=0

# label example timeline min max [example arguments]
# (the -raw cases write without LZ4: large value buffers go to the file
# straight from the chunk, in parts; the -direct cases bound the queue below
# an image's size, so each image row is written from the caller's memory)
cases="points3d points3d frame 0 99
points3d-raw points3d frame 0 99 --no-compression
plots plots step 0 999
dna dna stable_time 0 3990000000
images images frame 0 19
images-raw images frame 0 19 --no-compression
images-direct images frame 0 19 --max-bytes-in-flight 65536
images-direct-raw images frame 0 19 --no-compression --max-bytes-in-flight 65536
text_log text_log log_seq 0 59
mesh mesh frame 0 0
all_archetypes all_archetypes frame 0 2"

# Judges one report. The map view fetches tiles from the internet, which this
# machine cannot reach: those warnings (and only those) are not about our data.
judge() {  # report.json min max
  /usr/bin/python3 - "$@" <<'PY'
import json, re, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("  no report (the viewer page crashed?):", e); sys.exit(1)
probs = [p for p in r.get("problems", []) if not re.search(r"walkers::io::fetch: Fetch error", p)]
recs = r.get("recordings", [])
ok = bool(r.get("started")) and len(recs) == 1 and not probs
if ok:
    rng = recs[0].get("range") or {}
    ok = rng.get("min") == int(sys.argv[2]) and rng.get("max") == int(sys.argv[3])
    if not ok: print("  range", rng, "expected", sys.argv[2], sys.argv[3])
for p in probs: print("  ", p)
sys.exit(0 if ok else 1)
PY
}

while read -r name example tl min max args; do
  rrd="$out/$name.rrd"
  # shellcheck disable=SC2086 # args: zero or more words
  if ! "$BUILD/examples/$example" --save "$rrd" $args 2>"$out/$name.log"; then
    echo "FAIL $name: the example failed"; cat "$out/$name.log"; fail=$((fail + 1)); continue
  fi
  # The viewer ingests asynchronously: on a loaded machine the last chunks can
  # arrive after a short wait, so a first miss is retried once with a longer
  # one. A page that crashes can leave the harness waiting: bound each run.
  ok=0
  for wait in 6000 20000; do
    timeout -k 10 240 node "$check" "$rrd" --timeline "$tl" --wait "$wait" --shot "$out/$name.png" \
      >"$out/$name.json" 2>>"$out/$name.log"
    if judge "$out/$name.json" "$min" "$max"; then ok=1; break; fi
    [ "$wait" = 6000 ] && echo "  (retrying $name with a longer wait)"
  done
  if [ "$ok" = 1 ]; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name (report: $out/$name.json)"; fi
done <<< "$cases"
echo "conformance: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
