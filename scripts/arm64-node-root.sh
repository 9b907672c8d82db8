#!/usr/bin/env bash
# Prepares Debian's arm64 Node.js (18, from Debian's own packages) and the libraries it
# needs in a folder, to run the linux-arm64-gnu build here under qemu-user:
#   qemu-aarch64-static -L DIR DIR/usr/bin/node …
# Nothing arm64 is installed into the system: the packages are downloaded with
# `apt-get download` and unpacked into DIR (once; later runs reuse it). Needs root for
# apt (it adds the arm64 architecture to apt's list so that apt can see those packages)
# and qemu-user-static (installed if missing).
# usage: scripts/arm64-node-root.sh [DIR]   (default: .cache/arm64-node-root)  prints DIR
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:-.cache/arm64-node-root}
mkdir -p "$R"
R=$(cd "$R" && pwd)
if [ -x "$R/usr/bin/node" ]; then echo "$R"; exit 0; fi

log() { echo "arm64-node-root: $*" >&2; }
export DEBIAN_FRONTEND=noninteractive
if ! command -v qemu-aarch64-static >/dev/null; then
  log "installing qemu-user-static"
  apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "adding arm64 to apt's architectures (package lists only; nothing is installed)"
  dpkg --add-architecture arm64
  apt-get update -qq >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
log "resolving nodejs:arm64 and its dependencies"
deps=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances nodejs:arm64 2>/dev/null | grep -E '^[a-z0-9]' | sort -u)
# arm64 packages, plus the architecture-independent ones they pull in (e.g. tzdata).
wanted=()
for p in $deps; do
  case "$p" in
    *:arm64) wanted+=("$p") ;;
    *:*) ;;
    *) [ "$(apt-cache show "$p" 2>/dev/null | awk '/^Architecture:/ {print $2; exit}')" = all ] && wanted+=("$p") ;;
  esac
done
log "downloading ${#wanted[@]} packages"
for p in "${wanted[@]}"; do apt-get download "$p" >/dev/null 2>&1 || log "could not download $p (skipped)"; done
log "unpacking into $R"
for f in *.deb; do dpkg -x "$f" "$R"; done
[ -x "$R/usr/bin/node" ] || { log "nodejs:arm64 is missing from $R"; exit 1; }
echo "$R"
