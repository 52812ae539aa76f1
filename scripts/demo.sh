#!/usr/bin/env bash
# make demo: logs a demo recording with the C SDK, then serves it: our
# server (gRPC proxy on 9876) and the web viewer (9090) on localhost.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
BUILD=${BUILD:-build}
PORT=${RERUN_DEMO_PORT:-9876}
WEB_PORT=${RERUN_DEMO_WEB_PORT:-9090}
out="$BUILD/demo.rrd"
"$BUILD/examples/dna" --save "$out"
"$BUILD/examples/all_archetypes" --save "$BUILD/demo_all_archetypes.rrd"
url="http://127.0.0.1:$WEB_PORT/?url=rerun%2Bhttp%3A%2F%2F127.0.0.1%3A$PORT%2Fproxy"
cat <<MSG

Demo recordings, logged by the C SDK (examples/c/dna.c, examples/c/all_archetypes.c):
  $out
  $BUILD/demo_all_archetypes.rrd
Serving them (gRPC on 127.0.0.1:$PORT, web viewer on 127.0.0.1:$WEB_PORT). Open:

  $url

Stream more into it from another terminal:
  $BUILD/examples/points3d --connect rerun+http://127.0.0.1:$PORT/proxy
Stop with Ctrl-C.
MSG
exec "$BUILD/rerun" "$out" "$BUILD/demo_all_archetypes.rrd" --bind 127.0.0.1 --port "$PORT" \
  --serve-web --web-viewer-port "$WEB_PORT"
