/* Thin glue over zlib's deflate() for a JavaScript driver; built twice by wasm/build-deflaters.sh, once against
 * the Chromium zlib fork (wasm/zlib-chromium.wasm) and once against vanilla zlib (wasm/zlib.wasm).
 *
 * One stream = one fresh WebAssembly instance = one dg_new(). The driver:
 *   1. dg_new(level, memLevel, windowBits, strategy) makes a RAW deflate stream (no zlib/gzip wrapper) and its
 *      input and output buffers (DG_IN_CAP and DG_OUT_CAP bytes, at dg_in_ptr() / dg_out_ptr());
 *   2. copies up to DG_IN_CAP bytes into dg_in_ptr() and calls dg_input(len);
 *   3. calls dg_step(finish) until it returns DG_NEED_INPUT (all input taken, nothing more to emit without more
 *      input) or, with finish = 1, DG_DONE; after each call copies dg_out_len() bytes from dg_out_ptr()
 *      (the next dg_step reuses the buffer). Anything negative is zlib's error code.
 *
 * Memory: zlib allocates through dg_alloc, a bump allocator over the module's own linear memory (the stream is
 * never freed: the instance is dropped instead). For level 9, memLevel 9, windowBits 15 that is ~0.5 MiB, plus
 * the two buffers: the module's memory never grows past 2 MiB (its declared maximum).
 *
 * Deterministic output: raw deflate with a fixed parameter set; the bytes do not depend on how the input is
 * split into dg_input() calls (zlib decides blocks by its symbol buffer, not by input boundaries) or on the
 * output buffer size, for levels 1..9. Level 0 (stored blocks) does depend on the output buffer size, so the
 * buffer size is part of what this glue pins (DG_OUT_CAP). */

#include <stdint.h>
#include <string.h>
#include "zlib.h"

#define DG_EXPORT(name) __attribute__((export_name(#name)))
#define DG_IN_CAP 65536u
#define DG_OUT_CAP 65536u
#define DG_PAGE 65536u
#define DG_NEED_INPUT 1
#define DG_DONE 2

extern unsigned char __heap_base;
static uintptr_t dg_brk;

/* zlib's allocator: bump allocation, 16-byte aligned, growing memory as needed; NULL once the cap is reached. */
static voidpf dg_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  if (dg_brk == 0) dg_brk = (uintptr_t)&__heap_base;
  if (size != 0 && items > UINT32_MAX / size) return Z_NULL;
  uintptr_t start = (dg_brk + 15u) & ~(uintptr_t)15u;
  uintptr_t bytes = (uintptr_t)items * size;
  uintptr_t end = __builtin_wasm_memory_size(0) * DG_PAGE;
  if (bytes > UINTPTR_MAX - start) return Z_NULL;
  if (start + bytes > end) {
    uintptr_t pages = (start + bytes - end + DG_PAGE - 1) / DG_PAGE;
    if (__builtin_wasm_memory_grow(0, pages) == SIZE_MAX) return Z_NULL;
  }
  dg_brk = start + bytes;
  /* Fresh memory.grow pages are zero; bump memory is never reused, so this is calloc-equivalent. */
  return (voidpf)start;
}

static void dg_free(voidpf opaque, voidpf address) {
  (void)opaque;
  (void)address;
}

static z_stream dg_stream;
static unsigned char *dg_in;
static unsigned char *dg_out;
static int dg_ready;

DG_EXPORT(dg_new)
int dg_new(int level, int mem_level, int window_bits, int strategy) {
  if (dg_ready) return Z_STREAM_ERROR; /* one stream per instance */
  memset(&dg_stream, 0, sizeof dg_stream);
  dg_stream.zalloc = dg_alloc;
  dg_stream.zfree = dg_free;
  dg_in = dg_alloc(Z_NULL, DG_IN_CAP, 1);
  dg_out = dg_alloc(Z_NULL, DG_OUT_CAP, 1);
  if (dg_in == Z_NULL || dg_out == Z_NULL) return Z_MEM_ERROR;
  /* Raw deflate: negative windowBits. zlib refuses raw windowBits 8 (it would silently make 9). */
  int rc = deflateInit2(&dg_stream, level, Z_DEFLATED, -window_bits, mem_level, strategy);
  if (rc != Z_OK) return rc;
  dg_ready = 1;
  return Z_OK;
}

DG_EXPORT(dg_in_ptr)
unsigned char *dg_in_ptr(void) { return dg_in; }

DG_EXPORT(dg_out_ptr)
unsigned char *dg_out_ptr(void) { return dg_out; }

DG_EXPORT(dg_in_cap)
unsigned dg_in_cap(void) { return DG_IN_CAP; }

/* The driver wrote len bytes at dg_in_ptr(); only valid once the previous input was consumed. */
DG_EXPORT(dg_input)
int dg_input(unsigned len) {
  if (!dg_ready || dg_stream.avail_in != 0 || len > DG_IN_CAP) return Z_STREAM_ERROR;
  dg_stream.next_in = dg_in;
  dg_stream.avail_in = len;
  return Z_OK;
}

DG_EXPORT(dg_step)
int dg_step(int finish) {
  if (!dg_ready) return Z_STREAM_ERROR;
  dg_stream.next_out = dg_out;
  dg_stream.avail_out = DG_OUT_CAP;
  int rc = deflate(&dg_stream, finish ? Z_FINISH : Z_NO_FLUSH);
  if (rc == Z_STREAM_END) return DG_DONE;
  /* Z_BUF_ERROR: no progress possible (no input left, or finish already done); not an error for a driver. */
  if (rc != Z_OK && rc != Z_BUF_ERROR) return rc;
  /* Output buffer full: there may be more to emit for the same input. */
  if (dg_stream.avail_out == 0) return Z_OK;
  return dg_stream.avail_in == 0 && !finish ? DG_NEED_INPUT : Z_OK;
}

DG_EXPORT(dg_out_len)
unsigned dg_out_len(void) { return DG_OUT_CAP - dg_stream.avail_out; }

DG_EXPORT(dg_total_in)
unsigned dg_total_in(void) { return dg_stream.total_in; }
