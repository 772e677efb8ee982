/* Hand-written liblzma configuration for wasm32-wasi (replaces autoconf's config.h).
 * Only what xdelta3's LZMA secondary compressor needs: the .xz stream format with LZMA2,
 * no integrity check beyond CRC32 (xdelta3 uses LZMA_CHECK_NONE), no threads. */
#define HAVE_ENCODER_LZMA1 1
#define HAVE_ENCODER_LZMA2 1
#define HAVE_DECODER_LZMA1 1
#define HAVE_DECODER_LZMA2 1
#define HAVE_CHECK_CRC32 1
#define HAVE_MF_HC3 1
#define HAVE_MF_HC4 1
#define HAVE_MF_BT2 1
#define HAVE_MF_BT3 1
#define HAVE_MF_BT4 1
#define HAVE_INTTYPES_H 1
#define HAVE_STDINT_H 1
#define HAVE_LIMITS_H 1
#define HAVE_STDBOOL_H 1
#define HAVE__BOOL 1
#define HAVE_STRING_H 1
#define HAVE_VISIBILITY 0
#define SIZEOF_SIZE_T 4
#define TUKLIB_SYMBOL_PREFIX lzma_
#define PACKAGE_NAME "XZ Utils"
#define PACKAGE_URL "https://tukaani.org/xz/"
#define ASSUME_RAM 128
