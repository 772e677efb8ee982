#!/usr/bin/env bash
# Builds wasm/xdelta3.wasm: xdelta3 3.1.1 (from node_modules/xdelta3-wasm) + liblzma 5.8.1 (Debian's xz-utils
# source package, xz-utils_5.8.1.orig.tar.xz from the Debian archive, SHA-256 pinned) + wasm/xd3glue.c, for wasm32
# with Debian's clang-14/lld/wasi-libc. liblzma 5.8 rather than the 5.2.3 inside lzma-native: its LZMA decoder
# has a non-resumable fast path that compiles to much better wasm (the LZMA secondary decodes ~35 % faster).
#
# Deterministic: same toolchain + same inputs => byte-identical module (test/node/codec-build.test.ts checks the
# committed module against a rebuild). Scratch files go to wasm/.build/ (git-ignored).
#
#   bash wasm/build.sh                 build and write wasm/xdelta3.wasm + wasm/xdelta3.wasm.sha256
#   OUT=/tmp/x.wasm bash wasm/build.sh build elsewhere (used by the reproducibility test; no .sha256 written)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SCRATCH="${SCRATCH:-$HERE/.build}"
OUT="${OUT:-$HERE/xdelta3.wasm}"
XD3="$ROOT/node_modules/xdelta3-wasm/src/native/xdelta/xdelta3"
XZ_DEBIAN_URL="${XZ_DEBIAN_URL:-http://deb.debian.org/debian/pool/main/x/xz-utils/xz-utils_5.8.1.orig.tar.xz}"
XZ_TARBALL_SHA256=0b54f79df85912504de0b14aec7971e3f964491af1812d83447005807513cd9e

CC="${CC:-clang-14}"
WASM_OPT="${WASM_OPT:-wasm-opt}"
for tool in "$CC" wasm-ld-14 "$WASM_OPT"; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 binaryen)" >&2; exit 2; }
done
[ -f "$XD3/xdelta3.c" ] || { echo "build.sh: xdelta3 sources missing at $XD3 (run npm ci)" >&2; exit 2; }

mkdir -p "$SCRATCH"
cd "$SCRATCH"

# --- liblzma source: Debian's xz-utils 5.8.1 orig tarball (upstream xz 5.8.1; liblzma is 0BSD) ---
if [ ! -f xz-utils_5.8.1.orig.tar.xz ]; then
  command -v curl >/dev/null || { echo "build.sh: curl not found (apt-get install curl)" >&2; exit 2; }
  curl -fsSL -o xz-utils_5.8.1.orig.tar.xz.part "$XZ_DEBIAN_URL" \
    || { echo "build.sh: could not download $XZ_DEBIAN_URL" >&2; exit 2; }
  mv xz-utils_5.8.1.orig.tar.xz.part xz-utils_5.8.1.orig.tar.xz
fi
echo "$XZ_TARBALL_SHA256  xz-utils_5.8.1.orig.tar.xz" | sha256sum -c --quiet -
[ -d xz-5.8.1 ] || tar xJf xz-utils_5.8.1.orig.tar.xz
XZ="$SCRATCH/xz-5.8.1/src"

TARGET=(--target=wasm32-wasi -O2 -fno-ident -ffile-prefix-map="$ROOT"=. -ffile-prefix-map="$SCRATCH"=.build)
OBJ="$SCRATCH/obj"
rm -rf "$OBJ" && mkdir -p "$OBJ"

# liblzma: just the .xz stream encoder/decoder with the LZMA2 filter and CRC32 (xdelta3's LZMA secondary).
LZMA_FILES=(
  check/check.c check/crc32_fast.c
  common/block_decoder.c common/block_encoder.c common/block_header_decoder.c common/block_header_encoder.c
  common/block_util.c common/common.c common/easy_preset.c common/filter_common.c common/filter_decoder.c
  common/filter_encoder.c common/filter_flags_decoder.c common/filter_flags_encoder.c common/index.c
  common/index_encoder.c common/index_hash.c common/stream_decoder.c common/stream_encoder.c
  common/stream_flags_common.c common/stream_flags_decoder.c common/stream_flags_encoder.c
  common/vli_decoder.c common/vli_encoder.c common/vli_size.c
  lz/lz_decoder.c lz/lz_encoder.c lz/lz_encoder_mf.c
  lzma/fastpos_table.c lzma/lzma2_decoder.c lzma/lzma2_encoder.c lzma/lzma_decoder.c lzma/lzma_encoder.c
  lzma/lzma_encoder_optimum_fast.c lzma/lzma_encoder_optimum_normal.c lzma/lzma_encoder_presets.c
  rangecoder/price_table.c
)
LZMA_INC=(-I"$HERE/include" -I"$XZ/liblzma/api" -I"$XZ/liblzma/common" -I"$XZ/liblzma/check" -I"$XZ/liblzma/lz"
  -I"$XZ/liblzma/rangecoder" -I"$XZ/liblzma/lzma" -I"$XZ/liblzma/delta" -I"$XZ/liblzma/simple" -I"$XZ/common")
for f in "${LZMA_FILES[@]}"; do
  "$CC" "${TARGET[@]}" -DHAVE_CONFIG_H -DNDEBUG "${LZMA_INC[@]}" -c "$XZ/liblzma/$f" -o "$OBJ/lzma_$(echo "$f" | tr / _).o" &
done
wait

# xdelta3 as a library: no main(), no stdio/posix, no external (de)compression; DJW/FGK/LZMA secondaries.
# XD3_HARDMAXWINSIZE = 16 MiB (Debian 3.0.11's value; 3.1.1 raised it to 64 MiB): a hostile delta cannot make
# the decoder allocate a bigger target window.
XD3_DEFS=(-DXD3_USE_LARGEFILE64=1 -DXD3_USE_LARGESIZET=0 -DSIZEOF_SIZE_T=4 -DSIZEOF_UNSIGNED_INT=4
  -DSIZEOF_UNSIGNED_LONG=4 -DSIZEOF_UNSIGNED_LONG_LONG=8 -DXD3_MAIN=0 -DXD3_DEBUG=0 -DREGRESSION_TEST=0
  -DVCDIFF_TOOLS=0 -DXD3_ENCODER=1 -DEXTERNAL_COMPRESSION=0 -DXD3_POSIX=0 -DXD3_STDIO=0 -DSECONDARY_DJW=1
  -DSECONDARY_FGK=1 -DSECONDARY_LZMA=1 -DXD3_HARDMAXWINSIZE=16777216 -DNDEBUG -include assert.h
  -I"$XD3" -I"$XZ/liblzma/api")
# Bulk memory (memory.copy/fill for memcpy/memset; supported by Workers' V8) speeds up decoding, which is mostly
# copying. Not for the glue: clang-14 crashes on wasi-libc's thread-local errno with it.
"$CC" "${TARGET[@]}" -mbulk-memory "${XD3_DEFS[@]}" -c "$XD3/xdelta3.c" -o "$OBJ/xdelta3.o" &
"$CC" "${TARGET[@]}" "${XD3_DEFS[@]}" -Wall -c "$HERE/xd3glue.c" -o "$OBJ/xd3glue.o" &
wait

# Memory is imported, so each job's JavaScript driver creates it with its own maximum (the per-job cap):
# growth past the cap makes malloc return NULL and the codec fail with ENOMEM instead of taking the isolate.
# Stack first, so a stack overflow traps instead of silently overwriting data.
# -O0 on the link line only: objects are already optimized, and at -O1+ clang's driver would itself run wasm-opt
# (if on PATH) with default features; wasm-opt runs once, below, with the features we use.
"$CC" --target=wasm32-wasi -O0 -nostartfiles -Wl,--no-entry -Wl,--import-memory -Wl,--stack-first \
  -Wl,-z,stack-size=262144 -Wl,--initial-memory=2097152 -Wl,--max-memory=1073741824 \
  -Wl,--export-dynamic -Wl,--strip-all -o "$OBJ/xdelta3.raw.wasm" \
  "$OBJ/xdelta3.o" "$OBJ/xd3glue.o" $(ls "$OBJ"/lzma_*.o | LC_ALL=C sort)
"$WASM_OPT" -O2 --enable-bulk-memory --strip-debug --strip-producers "$OBJ/xdelta3.raw.wasm" -o "$OUT"

if [ "$OUT" = "$HERE/xdelta3.wasm" ]; then
  (cd "$HERE" && sha256sum xdelta3.wasm > xdelta3.wasm.sha256)
fi
echo "built $OUT ($(stat -c %s "$OUT") bytes, sha256 $(sha256sum "$OUT" | cut -c1-64))"
