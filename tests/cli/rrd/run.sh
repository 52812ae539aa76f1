#!/usr/bin/env bash
# End-to-end tests of `rerun rrd`: ./run.sh BUILD_DIR. Prints "rrd-cli: N passed, N failed".
set -u
B=$(cd "${1:-build}" && pwd)
R="$B/rerun"
G=$(cd "$(dirname "$0")/../../../.." && pwd)/shared/golden/rrd
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local name=$1; shift; if "$@"; then ok; else ko "$name"; fi; }

# verify accepts every golden file
for f in "$G"/*.rrd "$G"/archetypes/*.rrd; do
  [ -e "$f" ] || continue
  check "verify $(basename "$f")" "$R" rrd verify "$f" >/dev/null
done
# ... and every example's output
for e in "$B"/examples/*; do
  [ -x "$e" ] || continue
  (cd "$T" && "$e" --save "$T/ex_$(basename "$e").rrd" >/dev/null 2>&1) || { ko "example $(basename "$e") runs"; continue; }
  check "verify example $(basename "$e")" "$R" rrd verify "$T/ex_$(basename "$e").rrd" >/dev/null
done

# damage: each kind has its own error
P="$G/plain.rrd"; n=$(stat -c %s "$P")
head -c $((n - 7)) "$P" > "$T/trunc.rrd"
printf 'XXXX' | cat - <(tail -c +5 "$P") > "$T/magic.rrd"
python3 - "$P" "$T" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read()); t = sys.argv[2]
v = bytearray(d); v[4:8] = bytes([0, 20, 0, 0]); open(t + '/oldver.rrd', 'wb').write(v)   # 0.20
k = bytearray(d); k[12 + 8 + 3] ^= 0x40; open(t + '/biglen.rrd', 'wb').write(k)             # message length
# flip a byte inside the LZ4/arrow payload of the last message
p = bytearray(d); p[len(p) - 300] ^= 0xFF; open(t + '/payload.rrd', 'wb').write(p)
PY
expect_err() {  # name file pattern
  local out; out=$("$R" rrd verify "$2" 2>&1 >/dev/null); local rc=$?
  if [ $rc -eq 1 ] && grep -qiE "$3" <<<"$out"; then ok; else ko "$1 (rc=$rc: $out)"; fi
}
expect_err truncated "$T/trunc.rrd" "offset [0-9]+"
expect_err bad-magic "$T/magic.rrd" "RR_ECORRUPT|RR_EUNSUPPORTED"
expect_err old-version "$T/oldver.rrd" "0\.20"
expect_err huge-length "$T/biglen.rrd" "offset"
expect_err bad-payload "$T/payload.rrd" "offset|chunk|arrow"
errs=$(for f in trunc magic oldver biglen payload; do "$R" rrd verify "$T/$f.rrd" 2>&1 >/dev/null | sed 's/^[^:]*: //'; done | sort -u | wc -l)
check "distinct damage errors" test "$errs" -eq 5

# stdin and print
check "verify stdin" bash -c "'$R' rrd verify - < '$G/lz4.rrd' | grep -q ok"
out=$("$R" rrd print -v "$G/plain.rrd")
check "print entity" grep -q "entity /points" <<<"$out"
check "print schema" grep -q "Points3D:positions: List<item: FixedSizeList<3, item: Float32>>" <<<"$out"
check "print values" grep -q "\[\[1, 2, 3\], \[4, 5, 6\]\]" <<<"$out"
check "print store" grep -q "application_id=my_app" <<<"$out"
out=$("$R" rrd stats "$G/plain.rrd")
check "stats" grep -qE "Points3D:positions +chunks +1 +rows +1" <<<"$out"

# merge: two files, two stores; the same file twice dedupes chunks
"$R" rrd merge -o "$T/m.rrd" "$G/plain.rrd" "$G/static.rrd" "$G/concat_noend.rrd"
check "merge verify" "$R" rrd verify "$T/m.rrd" >/dev/null
check "merge stores" bash -c "'$R' rrd verify '$T/m.rrd' | grep -q '4 stores'"
"$R" rrd merge "$G/plain.rrd" "$G/plain.rrd" > "$T/m2.rrd"
check "merge dedupe" bash -c "'$R' rrd verify '$T/m2.rrd' | grep -q '1 chunks'"

# plots: export prints the logged numbers; compact; filter
if [ -e "$T/ex_plots.rrd" ]; then
  "$R" rrd export --index step -c scalars "$T/ex_plots.rrd" > "$T/plots.csv"
  check "export plots csv" python3 - "$T/plots.csv" <<'PY'
import csv, math, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]; assert h[0] == 'step', h
ci, si = h.index('/plots/cos:Scalars:scalars'), h.index('/plots/sin:Scalars:scalars')
assert len(rows) == 1001, len(rows)
for r in rows[1:]:
    s = int(r[0])
    assert float(r[si]) == math.sin(s / 100.0) and float(r[ci]) == math.cos(s / 100.0), r
PY
  "$R" rrd export --index step --from 10 --to 12 --format jsonl "$T/ex_plots.rrd" > "$T/plots.jsonl"
  check "export jsonl" python3 -c "
import json,sys; l=[json.loads(x) for x in open('$T/plots.jsonl')]; assert [x['step'] for x in l]==[10,11,12], l; assert l[0]['/plots/sin:SeriesLines:names']=='sin'"
  "$R" rrd export --index step --format arrow -o "$T/plots.arrow" "$T/ex_plots.rrd"
  check "export arrow magic" bash -c "head -c 6 '$T/plots.arrow' | grep -q ARROW1 && tail -c 6 '$T/plots.arrow' | grep -q ARROW1"
  if [ -d "$G/../../../main/tests/js/node_modules/apache-arrow" ] || [ -d "$(dirname "$0")/../../js/node_modules/apache-arrow" ]; then
    check "export arrow read by apache-arrow" node -e "
      const {tableFromIPC}=require('$(cd "$(dirname "$0")/../../js" && pwd)/node_modules/apache-arrow');
      const t=tableFromIPC(require('fs').readFileSync('$T/plots.arrow'));
      if (t.numRows!==1000) process.exit(1);
      if (t.getChild('/plots/sin:Scalars:scalars').get(100).get(0)!==Math.sin(1)) process.exit(2);"
  fi
  "$R" rrd compact --max-rows 100 -o "$T/c.rrd" "$T/ex_plots.rrd"
  check "compact verify" "$R" rrd verify "$T/c.rrd" >/dev/null
  check "compact max rows" bash -c "! '$R' rrd print '$T/c.rrd' | grep -E ' [0-9]+ rows' | awk '{print \$3}' | awk '\$1 > 100' | grep -q ."
  check "compact keeps rows" bash -c "'$R' rrd verify '$T/c.rrd' | grep -q '2003 rows'"
  "$R" rrd filter --entity '/plots/sin' --timeline step --from 0 --to 9 "$T/ex_plots.rrd" > "$T/f.rrd"
  check "filter rows" bash -c "'$R' rrd verify '$T/f.rrd' | grep -q ' 11 rows'"
  "$R" rrd filter --drop-static "$T/ex_plots.rrd" > "$T/f2.rrd"
  check "filter drop static" bash -c "! '$R' rrd print '$T/f2.rrd' | grep -q static"
fi
check "help" bash -c "'$R' rrd --help | grep -q export"
check "unknown command" bash -c "! '$R' rrd bogus 2>/dev/null"
echo "rrd-cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
