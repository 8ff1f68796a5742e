#include <zlib.h>

/* inflateInit2 is a macro over inflateInit2_; Swift cannot call the macro. */
static inline int grove_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 32); /* 32: detect gzip or zlib header */
}
