/* engine/image_io_ffmpeg.h — internal: the FFmpeg decoding path of image_io.c (see
 * image_io_ffmpeg.c) and the RGB allocation helper it shares with image_io.c. */
#ifndef JANUS_ENGINE_IMAGE_IO_FFMPEG_H
#define JANUS_ENGINE_IMAGE_IO_FFMPEG_H

#include "image_io.h"

/* Decodes path (any format FFmpeg reads; videos: the frame at at_seconds, < 0 = first). */
jn_status jn_image_decode_ffmpeg(const char *path, double at_seconds, jn_rgb_image *out, jn_error *err);
/* Allocates out->rgb for w x h after jn_image_check_size. */
jn_status jn_image_alloc_rgb(jn_rgb_image *out, int w, int h, const char *what, jn_error *err);

#endif
