/* engine/image_io_noffmpeg.c — stand-in for image_io_ffmpeg.c in builds without FFmpeg: only
 * PNG and JPEG are readable, and the message says so. */
#include "image_io_ffmpeg.h"

jn_status jn_image_decode_ffmpeg(const char *path, double at_seconds, jn_rgb_image *out, jn_error *err) {
    (void)at_seconds;
    (void)out;
    return jn_fail(err, JN_ERR_FORMAT,
                   "%s: not a PNG or JPEG file, and this janus was built without FFmpeg (install libavformat-dev, "
                   "libavcodec-dev and libswscale-dev and rebuild to read other formats and videos)",
                   path);
}
