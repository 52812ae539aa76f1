#!/usr/bin/env bash
# Installs everything rerun-c needs on a Debian machine. Idempotent: prints
# nothing and changes nothing when all is present.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

# Libraries and build tools: Debian packages, checked by package name.
debs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libprotobuf-c-dev protobuf-c-compiler liblz4-dev libzstd-dev libxxhash-dev
      libnghttp2-dev libcurl4-openssl-dev libssl-dev libuv1-dev libcmocka-dev
      python3-numpy python3-pytest python3-grpcio python3-grpc-tools)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Programs: checked by command, since a machine may have them from elsewhere
# (a Node.js from another distribution channel conflicts with Debian's npm).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm packages: the official-viewer harness (shared/) and our JS checks.
npm_ci() {  # dir
  local d=$1
  [ -f "$d/package.json" ] || return 0
  if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules" ]; then
    echo "install-deps: npm ci in $d" >&2
    (cd "$d" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund >/dev/null)
    touch "$d/node_modules"
  fi
}
npm_ci "$here/tests/js"
# The official-viewer harness lives in ../shared/conformance (read-only):
# run it from a copy in build/conformance with its own node_modules.
conf="$here/../shared/conformance"
copy="$here/${BUILD:-build}/conformance"
if [ -d "$conf" ]; then
  if [ ! -f "$copy/check.mjs" ] || [ "$conf/package-lock.json" -nt "$copy/package-lock.json" ]; then
    mkdir -p "$copy" && cp -r "$conf/." "$copy/" && chmod -R u+w "$copy"
  fi
  npm_ci "$copy"
fi
exit 0
