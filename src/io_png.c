/* io_png.c — 8-bit PNG writer over libpng, with libpng's messages captured instead of printed. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <png.h>

#include "clgrad/io.h"
#include "internal.h"
#include "io_internal.h"

typedef struct png_job {
    clg__afile af;
    png_structp png;
    png_infop info;
    char msg[256];
    jmp_buf jb;
} png_job;

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *w = png_get_error_ptr(png);
    snprintf(w->msg, sizeof w->msg, "%s", msg ? msg : "unknown error");
    longjmp(w->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    clg__log(CLG_LOG_DEBUG, "libpng: %s", msg ? msg : "");
}

/* All libpng calls live here, so that longjmp only unwinds this frame.  0 on success. */
static int png_body(png_job *w, const uint8_t *pixels, int width, int height, int channels)
{
    static const int color[5] = { 0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                   PNG_COLOR_TYPE_RGB_ALPHA };
    if (setjmp(w->jb))
        return 1;
    png_init_io(w->png, w->af.f);
    png_set_IHDR(w->png, w->info, (png_uint_32)width, (png_uint_32)height, 8, color[channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w->png, w->info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++)
        png_write_row(w->png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(w->png, NULL);
    return 0;
}

clg_status clg_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels)
{
    if (!path || !*path || !pixels)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_png_write %s: NULL path or pixels", path ? path : "(null)");
    if (width < 1 || height < 1 || width > 1000000 || height > 1000000)
        return clg__fail(CLG_ERR_INVALID_ARG, "clg_png_write %s: bad size %dx%d (1..1000000 each)", path,
                         width, height);
    if (channels < 1 || channels > 4)
        return clg__fail(CLG_ERR_INVALID_ARG,
                         "clg_png_write %s: %d channels, expected 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)",
                         path, channels);
    png_job w;
    memset(&w, 0, sizeof w);
    clg_status st = clg__afile_open(&w.af, path);
    if (st)
        return st;
    w.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, on_error, on_warning);
    if (w.png)
        w.info = png_create_info_struct(w.png);
    if (!w.png || !w.info) {
        png_destroy_write_struct(&w.png, &w.info);
        clg__afile_abort(&w.af);
        return clg__fail(CLG_ERR_OUT_OF_MEMORY, "clg_png_write %s: libpng could not allocate", path);
    }
    int bad = png_body(&w, pixels, width, height, channels);
    png_destroy_write_struct(&w.png, &w.info);
    if (bad) {
        clg__afile_abort(&w.af);
        return clg__fail(CLG_ERR_IO, "writing %s: libpng: %s", path, w.msg);
    }
    if (ferror(w.af.f)) {
        clg__afile_abort(&w.af);
        return clg__fail(CLG_ERR_IO, "writing %s failed", path);
    }
    return clg__afile_commit(&w.af);
}
