/* Thin glue over xdelta3's non-blocking streaming API for a JavaScript driver.
 *
 * One job = one fresh WebAssembly instance = one xg_ctx. The driver:
 *   1. xg_new(...) configures an encoder or decoder and its source block cache;
 *   2. copies an input chunk into xg_inbuf() and calls xg_input(len, eof);
 *   3. calls xg_step() until it returns XD3_INPUT, handling
 *        XD3_OUTPUT    -> copy xg_out_ptr()/xg_out_len(), then xg_consume();
 *        XD3_GETSRCBLK -> read xg_req_len() source bytes at xg_req_offset() into xg_req_buf(),
 *                         then xg_provide(bytes_read);
 *        XD3_GOTHEADER -> (decode) inspect xg_appheader_ptr()/xg_appheader_len();
 *        anything else -> an error: xg_msg() says what went wrong;
 *   4. at the end calls xg_close() (checks the stream ended at a window boundary).
 *
 * Ranged decoding (xg_set_range): windows whose target bytes all lie before the range are still parsed, and
 * their secondary-compressed sections still decompressed (xdelta3's LZMA secondary is ONE xz stream per
 * section kind across the whole delta, sync-flushed per window, so its dictionary carries over), but their
 * instructions are not executed (XD3_SKIP_EMIT): no source reads, no output. Windows never depend on earlier
 * windows' target bytes: this decoder refuses VCD_TARGET ("VCD_TARGET not implemented") and xdelta3's encoder
 * never writes it. Every window that is emitted must carry an Adler-32 (verified by the library before
 * XD3_OUTPUT); one without is XG_UNVERIFIABLE, so the caller can rebuild the whole object instead.
 *
 * The source cache lives in wasm memory. Cache hits are answered synchronously inside the library through
 * config.getblk; only a miss returns XD3_GETSRCBLK to JavaScript, which then reads that block by range.
 * Like the xdelta3 command line tool: a source that fits in the source window is one block; otherwise the
 * window is split into slots. The encoder scans the source forward, so it uses FIFO slots and refuses to go
 * back to an evicted block (XD3_TOOFARBACK) -- every source byte is read exactly once. The decoder follows
 * copy addresses wherever they point, so it uses LRU slots. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "xdelta3.h"

#include <errno.h>

#define XG_EXPORT(name) __attribute__((export_name(#name)))
#define XG_NO_BLOCK ((xoff_t)-1)
/* A ranged decode met a window it would emit that has no Adler-32 checksum. */
#define XG_UNVERIFIABLE (-17800)
/* Window indicator bit "has an Adler-32" (xdelta3.c's VCD_ADLER32, private to that file). */
#define XG_VCD_ADLER32 (1U << 2)

/* The allocator's break, replacing wasi-libc's sbrk (which grows wasm memory by exactly what malloc asks).
 * Every memory.grow costs about a millisecond in V8 whatever its size, and malloc grows in 64 KiB steps, which
 * made encoding with large windows twice as slow as native. So grow in steps of at least XG_GROW_STEP, or
 * exactly what is needed when a full step would pass the job's memory cap (then malloc fails: ENOMEM).
 * 1 MiB: a ~55 MiB encode grows ~50 times (~50 ms); 4 MiB steps left up to 4 MiB of the isolate's memory unused. */
#define XG_PAGE 65536u
#define XG_GROW_STEP (1u << 20)
static uintptr_t xg_brk;

void *sbrk(intptr_t increment) {
  uintptr_t end = __builtin_wasm_memory_size(0) * XG_PAGE;
  if (xg_brk == 0) xg_brk = end;
  if (increment < 0) {
    errno = EINVAL;
    return (void *)-1;
  }
  uintptr_t old = xg_brk;
  if ((uintptr_t)increment > end - old) {
    uintptr_t need_pages = ((uintptr_t)increment - (end - old) + XG_PAGE - 1) / XG_PAGE;
    uintptr_t step_pages = XG_GROW_STEP / XG_PAGE;
    if (__builtin_wasm_memory_grow(0, need_pages > step_pages ? need_pages : step_pages) == SIZE_MAX &&
        __builtin_wasm_memory_grow(0, need_pages) == SIZE_MAX) {
      errno = ENOMEM;
      return (void *)-1;
    }
  }
  xg_brk = old + (uintptr_t)increment;
  return (void *)old;
}

typedef struct {
  xd3_stream stream;
  xd3_config config;
  xd3_source source;
  int encode;
  int has_source;
  uint64_t src_size;

  /* source block cache: nslots blocks of blksize bytes (one block may be shorter than blksize) */
  uint8_t *cache;
  xoff_t *slot_blkno;
  uint32_t *slot_len;
  uint64_t *slot_used; /* LRU clock value of the last hit */
  int32_t *block_slot; /* block number -> slot holding it, or -1 (one entry per source block) */
  uint64_t nblocks;
  uint32_t nslots;
  uint32_t blksize;
  uint64_t clock;

  /* the block the library is waiting for after XD3_GETSRCBLK */
  xoff_t req_blkno;
  uint32_t req_slot;

  /* input chunk buffer, owned by the glue so the library may keep pointers into it until XD3_INPUT */
  uint8_t *inbuf;
  uint32_t inbuf_cap;

  /* ranged decode: target bytes [range_start, range_end] (inclusive); windows before it are not emitted */
  int range_active;
  uint64_t range_start;
  uint64_t range_end;
  uint32_t windows_skipped;
  uint32_t windows_emitted;
} xg_ctx;

static uint32_t pow2_roundup(uint64_t x) {
  uint64_t p = 1;
  while (p < x) p <<= 1;
  return p > 0x80000000u ? 0x80000000u : (uint32_t)p;
}

static void *xg_calloc(size_t n, size_t size) { return n == 0 ? malloc(1) : calloc(n, size); }

static uint32_t block_len(const xg_ctx *ctx, xoff_t blkno) {
  uint64_t start = (uint64_t)blkno * ctx->blksize;
  if (start >= ctx->src_size) return 0;
  uint64_t rest = ctx->src_size - start;
  return rest < ctx->blksize ? (uint32_t)rest : ctx->blksize;
}

static void point_source_at(xg_ctx *ctx, xd3_source *src, uint32_t slot) {
  src->curblkno = ctx->slot_blkno[slot];
  src->curblk = ctx->cache + (size_t)slot * ctx->blksize;
  src->onblk = ctx->slot_len[slot];
}

static int find_slot(const xg_ctx *ctx, xoff_t blkno, uint32_t *slot) {
  int32_t held = ctx->block_slot[blkno];
  if (held >= 0) {
    *slot = (uint32_t)held;
    return 1;
  }
  /* FIFO (encoder): a block can only go into slot blkno mod nslots. */
  if (ctx->encode) *slot = (uint32_t)(blkno % ctx->nslots);
  return 0;
}

static uint32_t lru_victim(const xg_ctx *ctx) {
  uint32_t victim = 0;
  for (uint32_t i = 0; i < ctx->nslots; i++) {
    if (ctx->slot_blkno[i] == XG_NO_BLOCK) return i;
    if (ctx->slot_used[i] < ctx->slot_used[victim]) victim = i;
  }
  return victim;
}

/* Called synchronously by the library whenever it needs a source block that is not its current one. */
static int xg_getblk(xd3_stream *stream, xd3_source *src, xoff_t blkno) {
  xg_ctx *ctx = (xg_ctx *)stream->opaque;
  uint32_t slot;
  if (blkno >= ctx->nblocks) {
    /* Past the end of the source (only a corrupt or wrong-source delta asks): an empty block, which the
     * library reports as "source file too short" when it copies from it. */
    src->curblkno = blkno;
    src->curblk = ctx->cache;
    src->onblk = 0;
    return 0;
  }
  if (find_slot(ctx, blkno, &slot)) {
    ctx->slot_used[slot] = ++ctx->clock;
    point_source_at(ctx, src, slot);
    return 0;
  }
  if (ctx->encode) {
    /* FIFO: the slot holds a newer block, so this one was already evicted; the CLI does the same. */
    if (ctx->slot_blkno[slot] != XG_NO_BLOCK && ctx->slot_blkno[slot] > blkno) return XD3_TOOFARBACK;
  } else {
    slot = lru_victim(ctx);
  }
  /* The victim's bytes are about to be overwritten: never leave the library pointing at them. */
  if (src->curblk == ctx->cache + (size_t)slot * ctx->blksize) {
    src->curblk = NULL;
    src->curblkno = XG_NO_BLOCK;
  }
  if (ctx->slot_blkno[slot] != XG_NO_BLOCK) ctx->block_slot[ctx->slot_blkno[slot]] = -1;
  ctx->slot_blkno[slot] = XG_NO_BLOCK;
  ctx->req_blkno = blkno;
  ctx->req_slot = slot;
  stream->msg = "getblk source input";
  return XD3_GETSRCBLK;
}

/* Set before xg_new (one instance per job): a decoder that will touch only part of the source (ranged
 * decode) splits even a source that fits the window into blocks, so it reads only the blocks it copies from. */
static int xg_blocked_source = 0;
XG_EXPORT(xg_prefer_blocks) void xg_prefer_blocks(int on) { xg_blocked_source = on; }

/* Sizes the source cache and registers the source with the library.
 * srcwin: the source window (-B; rounded up to a power of two, as the CLI does).
 * blksize: decoder block size when the source does not fit in the window (0 = window / 32, like the CLI). */
static int setup_source(xg_ctx *ctx, uint64_t src_size, uint32_t srcwin, uint32_t blksize) {
  srcwin = pow2_roundup(srcwin < (XD3_ALLOCSIZE * 32) ? (XD3_ALLOCSIZE * 32) : srcwin);
  ctx->src_size = src_size;
  if (src_size <= srcwin && !xg_blocked_source) {
    /* Whole source in one block: allocate only what the source needs. */
    ctx->blksize = srcwin;
    ctx->nslots = 1;
  } else {
    uint32_t want = blksize ? pow2_roundup(blksize) : srcwin / 32;
    if (ctx->encode || want == 0 || want > srcwin) want = srcwin / 32;
    if (want < XD3_ALLOCSIZE) want = XD3_ALLOCSIZE;
    ctx->blksize = want;
    ctx->nslots = srcwin / want;
    /* A small source split only for ranged reads needs no more slots than it has blocks. */
    uint64_t blocks = (src_size + want - 1) / want;
    if (xg_blocked_source && blocks < ctx->nslots) ctx->nslots = blocks ? (uint32_t)blocks : 1;
  }
  size_t cache_bytes = ctx->nslots == 1 ? (size_t)src_size : (size_t)ctx->nslots * ctx->blksize;
  ctx->cache = (uint8_t *)malloc(cache_bytes ? cache_bytes : 1);
  ctx->slot_blkno = (xoff_t *)xg_calloc(ctx->nslots, sizeof(xoff_t));
  ctx->slot_len = (uint32_t *)xg_calloc(ctx->nslots, sizeof(uint32_t));
  ctx->slot_used = (uint64_t *)xg_calloc(ctx->nslots, sizeof(uint64_t));
  ctx->nblocks = (src_size + ctx->blksize - 1) / ctx->blksize;
  ctx->block_slot = (int32_t *)xg_calloc(ctx->nblocks, sizeof(int32_t));
  if (!ctx->cache || !ctx->slot_blkno || !ctx->slot_len || !ctx->slot_used || !ctx->block_slot) return ENOMEM;
  for (uint32_t i = 0; i < ctx->nslots; i++) ctx->slot_blkno[i] = XG_NO_BLOCK;
  for (uint64_t b = 0; b < ctx->nblocks; b++) ctx->block_slot[b] = -1;

  xd3_source *src = &ctx->source;
  memset(src, 0, sizeof(*src));
  src->blksize = ctx->blksize;
  src->name = "source";
  src->curblkno = XG_NO_BLOCK;
  src->curblk = NULL;
  src->max_winsize = srcwin;
  ctx->has_source = 1;
  return xd3_set_source_and_size(&ctx->stream, src, src_size);
}

static int last_new_error = 0;

/* encode: 1 = encoder, 0 = decoder.
 * winsize: encoder input window (-W). srcwin: source window (-B) = decoder cache size.
 * flags: XD3_* stream flags (secondary compressor, Adler-32, ...). smatch: xd3_smatch_cfg for the level.
 * src_size: source length in bytes, or negative for "no source". inbuf_cap: size of the input chunk buffer. */
XG_EXPORT(xg_new)
xg_ctx *xg_new(int encode, uint32_t winsize, uint32_t srcwin, uint32_t blksize, uint32_t flags, int smatch,
               double src_size, uint32_t inbuf_cap) {
  xg_ctx *ctx = (xg_ctx *)calloc(1, sizeof(xg_ctx));
  if (!ctx) {
    last_new_error = ENOMEM;
    return NULL;
  }
  ctx->encode = encode;
  ctx->inbuf_cap = inbuf_cap;
  ctx->inbuf = (uint8_t *)malloc(inbuf_cap ? inbuf_cap : 1);
  if (!ctx->inbuf) {
    last_new_error = ENOMEM;
    return NULL;
  }
  xd3_init_config(&ctx->config, flags);
  ctx->config.winsize = winsize < XD3_ALLOCSIZE ? XD3_ALLOCSIZE : winsize;
  ctx->config.getblk = xg_getblk;
  ctx->config.opaque = ctx;
  ctx->config.smatch_cfg = (xd3_smatch_cfg)smatch;
  if ((flags & XD3_SEC_DJW) != 0) {
    /* The CLI's -S djw (level 6): one Huffman group per section, no address-section compression. */
    ctx->config.sec_data.ngroups = 1;
    ctx->config.sec_inst.ngroups = 1;
    ctx->config.sec_addr.ngroups = 1;
  }
  int ret = xd3_config_stream(&ctx->stream, &ctx->config);
  if (ret == 0 && src_size >= 0) ret = setup_source(ctx, (uint64_t)src_size, srcwin, blksize);
  if (ret != 0) {
    last_new_error = ret;
    return NULL;
  }
  return ctx;
}

XG_EXPORT(xg_new_error) int xg_new_error(void) { return last_new_error; }
XG_EXPORT(xg_inbuf) uint8_t *xg_inbuf(xg_ctx *ctx) { return ctx->inbuf; }

/* Hands the library the chunk the driver copied into xg_inbuf(); eof marks the last chunk (XD3_FLUSH). */
XG_EXPORT(xg_input)
void xg_input(xg_ctx *ctx, uint32_t len, int eof) {
  if (eof) xd3_set_flags(&ctx->stream, ctx->stream.flags | XD3_FLUSH);
  xd3_avail_input(&ctx->stream, ctx->inbuf, len);
}

/* Decoder only: from now on emit only the windows that hold target bytes [start, end] (inclusive). */
XG_EXPORT(xg_set_range)
void xg_set_range(xg_ctx *ctx, double start, double end) {
  ctx->range_active = 1;
  ctx->range_start = (uint64_t)start;
  ctx->range_end = (uint64_t)end;
}

/* Called once the decoder has parsed a window's header (XD3_GOTHEADER / XD3_WINSTART), before any of its
 * sections are decoded: decides whether the window is emitted. */
static int choose_window(xg_ctx *ctx) {
  xd3_stream *stream = &ctx->stream;
  if (!ctx->range_active) return 0;
  if (stream->dec_winstart + stream->dec_tgtlen <= ctx->range_start) {
    stream->flags |= XD3_SKIP_EMIT; /* set directly: xd3_set_flags only expects FLUSH/SKIP_WINDOW changes */
    ctx->windows_skipped++;
    return 0;
  }
  stream->flags &= ~XD3_SKIP_EMIT;
  ctx->windows_emitted++;
  if ((stream->dec_win_ind & XG_VCD_ADLER32) == 0) {
    stream->msg = "window has no Adler-32 checksum, so a ranged decode could not verify it";
    return XG_UNVERIFIABLE;
  }
  return 0;
}

/* Reads one VCDIFF varint (RFC 3284 §2) of at most 32 bits; 0 when it runs past the end or overflows. */
static int read_size(const uint8_t **pos, const uint8_t *end, uint32_t *value) {
  uint32_t v = 0;
  for (int i = 0; i < 5 && *pos < end; i++) {
    uint8_t b = *(*pos)++;
    if (v > (UINT32_MAX >> 7)) return 0;
    v = (v << 7) | (b & 0x7f);
    if ((b & 0x80) == 0) {
      *value = v;
      return 1;
    }
  }
  return 0;
}

/* A skipped window is never emitted, so the library never checks that its instructions produce exactly its
 * header's target length -- yet that length places every later window in the target. Sum the instruction
 * sizes (the decoded instruction section is still in place) the way xd3_decode_instruction reads them, so a
 * damaged target length can never shift the bytes of the windows that are emitted. */
static int skipped_window_length_ok(const xd3_stream *stream) {
  const uint8_t *pos = stream->inst_sect.buf;
  const uint8_t *end = stream->inst_sect.buf_max;
  uint64_t total = 0;
  while (pos < end) {
    const xd3_dinst *inst = &stream->code_table[*pos++];
    uint32_t size;
    if (inst->type1 != XD3_NOOP) {
      size = inst->size1;
      if (size == 0 && !read_size(&pos, end, &size)) return 0;
      total += size;
    }
    if (inst->type2 != XD3_NOOP) {
      size = inst->size2;
      if (size == 0 && !read_size(&pos, end, &size)) return 0;
      total += size;
    }
    if (total > stream->dec_tgtlen) return 0;
  }
  return total == stream->dec_tgtlen;
}

/* Runs the library until it needs something from the driver. Window notifications are not interesting
 * to the driver and are skipped; a skipped window's (empty) output is consumed here. */
XG_EXPORT(xg_step)
int xg_step(xg_ctx *ctx) {
  for (;;) {
    int ret = ctx->encode ? xd3_encode_input(&ctx->stream) : xd3_decode_input(&ctx->stream);
    if (!ctx->encode && (ret == XD3_WINSTART || ret == XD3_GOTHEADER)) {
      int chosen = choose_window(ctx);
      if (chosen != 0) return chosen;
    }
    if (ret == XD3_OUTPUT && !ctx->encode && (ctx->stream.flags & XD3_SKIP_EMIT) != 0) {
      if (!skipped_window_length_ok(&ctx->stream)) {
        ctx->stream.msg = "a skipped window's instructions do not add up to its target length";
        return XD3_INVALID_INPUT;
      }
      xd3_consume_output(&ctx->stream);
      continue;
    }
    if (ret == XD3_WINSTART || ret == XD3_WINFINISH) continue;
    if (ret == XD3_GETSRCBLK && !ctx->has_source) {
      ctx->stream.msg = "source input required";
      return XD3_INVALID_INPUT;
    }
    return ret;
  }
}

XG_EXPORT(xg_out_ptr) uint8_t *xg_out_ptr(xg_ctx *ctx) { return ctx->stream.next_out; }
/* Decoder: target offset of the window being output (updated only when the next window starts). */
XG_EXPORT(xg_out_offset) double xg_out_offset(xg_ctx *ctx) { return (double)ctx->stream.dec_winstart; }
XG_EXPORT(xg_windows_skipped) uint32_t xg_windows_skipped(xg_ctx *ctx) { return ctx->windows_skipped; }
XG_EXPORT(xg_windows_emitted) uint32_t xg_windows_emitted(xg_ctx *ctx) { return ctx->windows_emitted; }
XG_EXPORT(xg_out_len) uint32_t xg_out_len(xg_ctx *ctx) { return ctx->stream.avail_out; }
XG_EXPORT(xg_consume) void xg_consume(xg_ctx *ctx) { xd3_consume_output(&ctx->stream); }

XG_EXPORT(xg_req_offset) double xg_req_offset(xg_ctx *ctx) { return (double)ctx->req_blkno * ctx->blksize; }
XG_EXPORT(xg_req_len) uint32_t xg_req_len(xg_ctx *ctx) { return block_len(ctx, ctx->req_blkno); }
XG_EXPORT(xg_req_buf)
uint8_t *xg_req_buf(xg_ctx *ctx) { return ctx->cache + (size_t)ctx->req_slot * ctx->blksize; }

/* The driver has read n bytes of the requested block into xg_req_buf(). Returns 0, or XD3_INVALID_INPUT
 * when the source returned fewer bytes than its declared size promises. */
XG_EXPORT(xg_provide)
int xg_provide(xg_ctx *ctx, uint32_t n) {
  if (n != block_len(ctx, ctx->req_blkno)) {
    ctx->stream.msg = "source read returned the wrong number of bytes";
    return XD3_INVALID_INPUT;
  }
  ctx->slot_blkno[ctx->req_slot] = ctx->req_blkno;
  ctx->block_slot[ctx->req_blkno] = (int32_t)ctx->req_slot;
  ctx->slot_len[ctx->req_slot] = n;
  ctx->slot_used[ctx->req_slot] = ++ctx->clock;
  return 0;
}

XG_EXPORT(xg_appheader_ptr)
uint8_t *xg_appheader_ptr(xg_ctx *ctx) {
  uint8_t *data = NULL;
  usize_t size = 0;
  return xd3_get_appheader(&ctx->stream, &data, &size) == 0 ? data : NULL;
}

XG_EXPORT(xg_appheader_len)
uint32_t xg_appheader_len(xg_ctx *ctx) {
  uint8_t *data = NULL;
  usize_t size = 0;
  return xd3_get_appheader(&ctx->stream, &data, &size) == 0 ? size : 0;
}

/* 1 once the decoder has read the whole VCDIFF file header (so an empty or header-truncated delta
 * can be told apart from a complete one). */
XG_EXPORT(xg_header_done)
int xg_header_done(xg_ctx *ctx) { return ctx->stream.dec_state >= DEC_WININD || ctx->stream.current_window > 0; }

/* Checks that the stream ended cleanly: encoder flushed, decoder at a window boundary. */
XG_EXPORT(xg_close) int xg_close(xg_ctx *ctx) { return xd3_close_stream(&ctx->stream); }

XG_EXPORT(xg_msg) const char *xg_msg(xg_ctx *ctx) { return ctx->stream.msg ? ctx->stream.msg : ""; }
XG_EXPORT(xg_strerror) const char *xg_strerror(int ret) {
  const char *s = xd3_strerror(ret);
  return s ? s : "";
}
