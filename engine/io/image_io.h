/* engine/image_io.h — image file decode (PNG, JPEG, anything FFmpeg reads, video frames) to 8-bit RGB,
 * and PNG/JPEG encode.
 *
 * Why: the understanding path must see exactly the pixels Python's
 * `PIL.Image.open(f).convert("RGB")` produces, because the reference preprocessing starts there.
 * PNG (libpng) and JPEG (libjpeg-turbo) follow Pillow's rules bit-exactly; everything else goes
 * through FFmpeg and is exact only where the format is lossless-and-unambiguous (BMP, TIFF, GIF;
 * see below). Model-agnostic: knows files and pixels, never "Janus".
 *
 * Pillow rules implemented (checked against Pillow 9.4 … 11.x sources: PngImagePlugin.py _MODES,
 * Unpack.c, Convert.c, JpegImagePlugin.py, JpegDecode.c):
 *   PNG  grey 1/2/4/8 bit      -> value scaled to 8 bit (x255, x85, x17), replicated to R=G=B
 *        grey 16 bit           -> Pillow opens mode "I"/"I;16"; convert("RGB") CLIPS: min(v, 255)
 *                                 (not v>>8): a 16-bit grey PNG with values > 255 comes out white
 *        RGB/RGBA/grey+alpha 16 bit -> high byte (v >> 8, truncation, not rounding)
 *        palette 1/2/4/8 bit   -> palette lookup (indices past the PLTE length -> black, as
 *                                 Pillow >= 10.4; Pillow <= 10.3 gave grey (i, i, i) there)
 *        alpha channel, tRNS   -> dropped, never composited
 *        gAMA, cHRM, sRGB, iCCP, sBIT -> ignored; interlaced images decoded fully
 *   JPEG libjpeg defaults as Pillow uses them (JDCT_ISLOW, fancy upsampling, libjpeg's colour
 *        space guess from JFIF/Adobe markers); 1 component -> grey replicated; 4 components
 *        (CMYK/YCCK, decoded to CMYK by libjpeg) -> Adobe-inverted (Pillow's "CMYK;I"), then
 *        Pillow's cmyk2rgb: nk = 255 - K, out = nk - (C*nk)/255 with Pillow's rounding MULDIV255.
 *        A truncated JPEG is an error (Pillow: "image file is truncated"), even one missing only
 *        its EOI marker (checked with Pillow 9.4); libjpeg's other warnings (extraneous bytes etc.)
 *        are ignored as Pillow ignores them. CRC errors in PNG chunks are errors.
 *   EXIF orientation is NOT applied (Pillow's open+convert does not apply it either).
 *   Other formats (FFmpeg): first frame (GIF: frame 0), converted by swscale to RGB24 with
 *        SWS_BITEXACT|SWS_ACCURATE_RND|SWS_FULL_CHR_H_INT. Checked exact vs Pillow 9.4 for 24-bit
 *        BMP, RGB TIFF, GIF without transparency and lossless WebP; NOT bit-exact for lossy WebP or
 *        any YUV source (libwebp's and swscale's YUV->RGB differ by a few levels), and GIF
 *        transparent pixels may differ (FFmpeg composites frame 0 on its own canvas).
 *   Videos: the first frame whose presentation time >= at_seconds (at_seconds < 0: first frame),
 *        found by seeking to the keyframe before it and decoding forward; rotation metadata is not
 *        applied. Still images through FFmpeg (and one-frame GIFs) ignore at_seconds. Only local
 *        files are opened (protocol_whitelist "file"); FFmpeg's "tty" text demuxer is refused.
 *        av_log_set_level(AV_LOG_QUIET) is called (process-wide) so FFmpeg never prints.
 *
 * Limits: width and height >= 1 and <= JN_IMAGE_MAX_SIDE, w*h <= JN_IMAGE_MAX_PIXELS (Pillow's
 * DecompressionBombError threshold, 2 * 89478485). Checked from the header BEFORE any pixel buffer
 * is allocated; the error names the size. Decoder state beyond the output image is bounded too:
 * libjpeg's buffers (a progressive JPEG keeps every DCT coefficient: 2 bytes per sample) by
 * JN_IMAGE_MAX_DECODER_BYTES, enough for any 3-component JPEG within the pixel limit; PNG needs
 * one row (interlaced images are scattered pass by pass). */
#ifndef JANUS_ENGINE_IMAGE_IO_H
#define JANUS_ENGINE_IMAGE_IO_H

#include "engine/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JN_IMAGE_MAX_PIXELS 178956970LL /* = 2 * PIL.Image.MAX_IMAGE_PIXELS */
#define JN_IMAGE_MAX_SIDE 1048576       /* 2^20 per side */
#define JN_IMAGE_MAX_DECODER_BYTES (1LL << 30)

/* Packed 8-bit RGB, row-major, no padding: rgb: [h, w, 3], malloc'ed. */
typedef struct jn_rgb_image {
    int w, h;
    uint8_t *rgb;
} jn_rgb_image;

/* Frees img->rgb and zeroes the struct (NULL or an already freed image is fine). */
void jn_rgb_image_free(jn_rgb_image *img);

/* Returns JN_OK if w x h is an acceptable image size, else a JN_ERR_FORMAT naming the size
 * (what: the file or a label, used as the message prefix). */
jn_status jn_image_check_size(const char *what, long long w, long long h, jn_error *err);

/* Decodes a file to RGB exactly as PIL's Image.open(path).convert("RGB") (see the rules above).
 * The format is sniffed from the content, not the extension. at_seconds: frame time for videos
 * (< 0: the first frame); ignored for still images. On success *out owns a new buffer.
 * Errors: JN_ERR_IO missing/unreadable file (message names the path), JN_ERR_FORMAT unsupported,
 * corrupt, truncated or over-limit image, JN_ERR_NOMEM. *out is zeroed on failure. */
jn_status jn_image_decode_file(const char *path, double at_seconds, jn_rgb_image *out, jn_error *err);

/* Same from a memory buffer (PNG and JPEG only; other formats give JN_ERR_FORMAT). what: name for
 * messages. */
jn_status jn_image_decode_memory(const uint8_t *data, size_t len, const char *what, jn_rgb_image *out,
                                 jn_error *err);

/* Writes an 8-bit RGB PNG (rgb: [h, w, 3]) with text chunks from text_kv = {key0, value0, key1,
 * value1, ...} (n_kv pairs): tEXt when the value is Latin-1-safe ASCII, iTXt (UTF-8) otherwise.
 * Keys: 1..79 printable ASCII characters. The file is written to a temporary file beside path and
 * renamed over it at the end. If path exists and !force: JN_ERR_USAGE ("... exists; use --force"). */
jn_status jn_image_write_png(const char *path, const uint8_t *rgb, int w, int h, const char *const *text_kv,
                             int n_kv, int force, jn_error *err);

/* Writes a baseline JPEG as Pillow's im.save(path, quality=q) does (libjpeg defaults: 4:2:0, ISLOW
 * DCT, JFIF header). quality 1..100; <= 0 means Pillow's default 75. Same temp+rename and
 * overwrite rules as jn_image_write_png. */
jn_status jn_image_write_jpeg(const char *path, const uint8_t *rgb, int w, int h, int quality, int force,
                              jn_error *err);
/* The same with a COM (comment) segment holding `comment` (NULL: none; cut at 65533 bytes, the
 * segment's limit), e.g. generation parameters. */
jn_status jn_image_write_jpeg_comment(const char *path, const uint8_t *rgb, int w, int h, int quality,
                                      const char *comment, int force, jn_error *err);

#ifdef __cplusplus
}
#endif
#endif
