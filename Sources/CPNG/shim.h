#include <png.h>

/* PNG_IMAGE_SIZE and friends are macros Swift cannot import. */
static inline size_t grove_png_image_size(const png_image *image) {
    return PNG_IMAGE_SIZE(*image);
}
static inline int grove_png_image_failed(const png_image *image) {
    return PNG_IMAGE_FAILED(*image);
}
