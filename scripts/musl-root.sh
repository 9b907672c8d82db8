#!/usr/bin/env bash
# Prepares what running a musl build here takes (a musl-linked Bun, `node scripts/runtimes.js
# bun-musl`, loading the linux-x64-musl addon), in a folder, without installing anything:
#   - musl >= 1.2.4 (Bun needs it; bookworm has 1.2.3): Debian trixie's `musl` package,
#     downloaded with an apt configuration of its own (its own lists and cache; the system's
#     sources and packages are not touched) and unpacked with dpkg-deb -x;
#   - a musl libstdc++ and libgcc_s: from a musllinux_1_2 wheel on PyPI (numpy's, which
#     carries both), with the names Bun asks for as symlinks.
# Then:  DIR/usr/lib/x86_64-linux-musl/libc.so --library-path DIR/lib <bun-musl> …
# (musl's libc.so is also its dynamic loader). Later runs reuse DIR.
# usage: scripts/musl-root.sh [DIR]   (default: .cache/musl-root)   prints DIR
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:-.cache/musl-root}
mkdir -p "$R"
R=$(cd "$R" && pwd)
LOADER=$R/usr/lib/x86_64-linux-musl/libc.so
if [ -x "$LOADER" ] && [ -e "$R/lib/libstdc++.so.6" ]; then echo "$R"; exit 0; fi

NUMPY=numpy==2.2.6   # its musllinux wheel ships libstdc++ 6.0.32 and libgcc_s
log() { echo "musl-root: $*" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log "downloading Debian trixie's musl (an apt configuration of its own in $tmp)"
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/sources"
cat >"$tmp/sources/trixie.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(
  -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$tmp/sources"
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Dir::State::status=/dev/null
  -o APT::Architectures=amd64 -o APT::Sandbox::User=root
  -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
  -o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false
)
apt-get "${apt_opts[@]}" update -qq
(cd "$tmp" && apt-get "${apt_opts[@]}" download -qq musl >&2)
dpkg-deb -x "$tmp"/musl_*.deb "$R"
[ -x "$LOADER" ] || { log "no musl loader in $R"; exit 1; }

log "downloading a musl libstdc++ and libgcc_s ($NUMPY, musllinux_1_2 wheel)"
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform musllinux_1_2_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
  -d "$tmp/wheel" "$NUMPY"
mkdir -p "$R/lib"
python3 - "$tmp"/wheel/*.whl "$R/lib" <<'EOF'
import os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if name.startswith('numpy.libs/') and base.startswith(('libstdc++', 'libgcc_s')):
            with open(os.path.join(out, base), 'wb') as f:
                f.write(z.read(name))
EOF
# The names Bun (libstdc++.so.6) and libstdc++ itself (its hashed libgcc_s) ask for.
(cd "$R/lib" && ln -sf libstdc++-*.so.6* libstdc++.so.6 &&
  gcc_s=$(readelf -d libstdc++.so.6 | sed -n 's/.*NEEDED.*\[\(libgcc_s[^]]*\)\].*/\1/p') &&
  ln -sf "$gcc_s" libgcc_s.so.1)
[ -e "$R/lib/libstdc++.so.6" ] && [ -e "$R/lib/libgcc_s.so.1" ] || { log "libstdc++/libgcc_s missing in $R/lib"; exit 1; }
echo "$R"
