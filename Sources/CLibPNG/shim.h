#ifndef KITBAG_CLIBPNG_SHIM_H
#define KITBAG_CLIBPNG_SHIM_H
/* libpng's simplified reading API, for the browser tests that look at Chromium's screenshots. */
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes a PNG held in memory to 8-bit RGBA rows. Returns 0 and sets *pixels (free with free()) on success,
   else -1 with libpng's message in `message` (at least 64 bytes). */
static inline int kitbag_png_decode_rgba(const void *data, size_t size, uint32_t *width, uint32_t *height,
                                         unsigned char **pixels, char *message) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    *pixels = NULL;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        strncpy(message, image.message, 63);
        message[63] = 0;
        return -1;
    }
    image.format = PNG_FORMAT_RGBA;
    size_t bytes = PNG_IMAGE_SIZE(image);
    unsigned char *buffer = malloc(bytes);
    if (buffer == NULL) {
        png_image_free(&image);
        strcpy(message, "out of memory");
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        strncpy(message, image.message, 63);
        message[63] = 0;
        free(buffer);
        return -1;
    }
    *width = image.width;
    *height = image.height;
    *pixels = buffer;
    return 0;
}
#endif
