#!/usr/bin/env bash
# Builds the deflaters that exact recompression (issue #18) ships and pins, each as its own small wasm module
# with the same glue (wasm/deflate-glue.c: raw deflate only, a bump allocator, no imports):
#
#   wasm/zlib-chromium.wasm  the Chromium zlib fork (1.3.0.1-motley) that Node bundles, from deps/zlib of Debian's
#                            nodejs_18.20.4+dfsg.orig.tar.xz (Debian's later nodejs orig tarballs drop deps/zlib).
#                            This is the deflater of npm-CLI tarballs.
#   wasm/zlib.wasm           vanilla zlib 1.3.1, from Debian's zlib_1.3.dfsg+really1.3.1.orig.tar.gz: what Python's
#                            zlib/zipfile, java.util.zip and most C programs use.
#
# Both tarballs come from the Debian archive, SHA-256 pinned. Chromium's zlib is built with CPU_NO_SIMD and none
# of its SIMD defines: there is no SSE in wasm, and its deflate output does not depend on them anyway (its hash,
# insert_string.h, is the same multiplicative hash with or without SIMD; slide_hash_simd computes what
# slide_hash does). docs/STORAGE_FORMAT.md "Deflaters" records what each id pins.
#
# Deterministic: same toolchain + same inputs => byte-identical modules (test/node/deflate-build.test.ts rebuilds
# and compares). Scratch files go to wasm/.build/ (git-ignored).
#
#   bash wasm/build-deflaters.sh            build and write wasm/zlib-chromium.wasm, wasm/zlib.wasm + .sha256 files
#   OUT_DIR=/tmp/d bash wasm/build-deflaters.sh   build into another folder (no .sha256 written)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SCRATCH="${SCRATCH:-$HERE/.build}"
OUT_DIR="${OUT_DIR:-$HERE}"
DEBIAN_POOL="${DEBIAN_POOL:-http://deb.debian.org/debian/pool/main}"
NODE_TARBALL=nodejs_18.20.4+dfsg.orig.tar.xz
NODE_TARBALL_SHA256=6ce58062c71eae37d9c5ac31eeaeff9c2d48561d21c2849179d056c9c1bd9ebc
ZLIB_TARBALL=zlib_1.3.dfsg+really1.3.1.orig.tar.gz
ZLIB_TARBALL_SHA256=60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb

CC="${CC:-clang-14}"
WASM_OPT="${WASM_OPT:-wasm-opt}"
for tool in "$CC" wasm-ld-14 "$WASM_OPT"; do
  command -v "$tool" >/dev/null || { echo "build-deflaters.sh: $tool not found (apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 binaryen)" >&2; exit 2; }
done

mkdir -p "$SCRATCH" "$OUT_DIR"
cd "$SCRATCH"

fetch() { # fetch <pool path> <file> <sha256>
  if [ ! -f "$2" ]; then
    command -v curl >/dev/null || { echo "build-deflaters.sh: curl not found (apt-get install curl)" >&2; exit 2; }
    curl -fsSL -o "$2.part" "$DEBIAN_POOL/$1/$2" || { echo "build-deflaters.sh: could not download $DEBIAN_POOL/$1/$2" >&2; exit 2; }
    mv "$2.part" "$2"
  fi
  echo "$3  $2" | sha256sum -c --quiet -
}
fetch n/nodejs "$NODE_TARBALL" "$NODE_TARBALL_SHA256"
fetch z/zlib "$ZLIB_TARBALL" "$ZLIB_TARBALL_SHA256"
[ -f node-v18.20.4/deps/zlib/deflate.c ] || tar xJf "$NODE_TARBALL" --wildcards 'node-v18.20.4/deps/zlib/*'
[ -f zlib-1.3.1/deflate.c ] || tar xzf "$ZLIB_TARBALL" zlib-1.3.1
CHROMIUM="$SCRATCH/node-v18.20.4/deps/zlib"
VANILLA="$SCRATCH/zlib-1.3.1"

TARGET=(--target=wasm32-wasi -O2 -fno-ident -ffile-prefix-map="$ROOT"=. -ffile-prefix-map="$SCRATCH"=.build)
# Z_SOLO: no malloc/stdio in zlib (the glue supplies zalloc). NDEBUG: no zlib tracing.
DEFS=(-DZ_SOLO -DNDEBUG)

build() { # build <name> <source dir> <extra defines...>
  local name="$1" src="$2"; shift 2
  local obj="$SCRATCH/obj-$name"
  rm -rf "$obj" && mkdir -p "$obj"
  local files=(deflate.c trees.c zutil.c adler32.c crc32.c)
  [ -f "$src/cpu_features.c" ] && files+=(cpu_features.c)
  for f in "${files[@]}"; do
    "$CC" "${TARGET[@]}" "${DEFS[@]}" "$@" -I"$src" -c "$src/$f" -o "$obj/${f%.c}.o" &
  done
  "$CC" "${TARGET[@]}" "${DEFS[@]}" "$@" -Wall -I"$src" -c "$HERE/deflate-glue.c" -o "$obj/glue.o" &
  wait
  # The module owns its memory (1 MiB initial, 2 MiB maximum: a level-9 memLevel-9 stream needs ~0.6 MiB with the
  # buffers), stack first so an overflow traps. -O0 on the link line: see wasm/build.sh.
  "$CC" --target=wasm32-wasi -O0 -nostartfiles -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=65536 \
    -Wl,--initial-memory=1048576 -Wl,--max-memory=2097152 -Wl,--strip-all -o "$obj/$name.raw.wasm" \
    $(ls "$obj"/*.o | LC_ALL=C sort)
  "$WASM_OPT" -O2 --strip-debug --strip-producers "$obj/$name.raw.wasm" -o "$OUT_DIR/$name.wasm"
  if [ "$OUT_DIR" = "$HERE" ]; then
    (cd "$HERE" && sha256sum "$name.wasm" > "$name.wasm.sha256")
  fi
  echo "built $OUT_DIR/$name.wasm ($(stat -c %s "$OUT_DIR/$name.wasm") bytes, sha256 $(sha256sum "$OUT_DIR/$name.wasm" | cut -c1-64))"
}

build zlib-chromium "$CHROMIUM" -DCPU_NO_SIMD
build zlib "$VANILLA"
