#!/usr/bin/env bash
# Checks DESIGN.md's layering from #include lines: a layer under src/ may
# include only its own headers, the layers above it in this order, and the
# public headers (rerun/...); the CLI only public headers and its own.
# Prints "layers: N passed, N failed" (one check per layer).
set -u
cd "$(dirname "$0")/.."
order=(base arrow types chunk encoding net sdk store query server analytics)
pass=0 fail=0
for i in "${!order[@]}"; do
  layer=${order[$i]}
  allowed=" ${order[*]:0:$((i + 1))} "
  bad=$(grep -Hn '#include "[a-z_]*/' src/"$layer"/*.[ch] 2>/dev/null |
        sed -E 's|^([^:]*:[0-9]+):.*#include "([a-z_]*)/.*|\1 \2|' |
        while read -r where dep; do
          case "$dep" in rerun) ;; *) [[ "$allowed" == *" $dep "* ]] || echo "$where includes $dep/";; esac
        done)
  if [ -z "$bad" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "layer $layer may not use:"; echo "$bad"; fi
done
bad=$(grep -Hn '#include "' src/cli/*.[ch] | grep -v -E '#include "(rerun/|rerun\.h|cli\.h|cmd_[a-z_]*\.h)')
if [ -z "$bad" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "the CLI uses public headers only:"; echo "$bad"; fi
echo "layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
