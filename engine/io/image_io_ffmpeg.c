/* engine/image_io_ffmpeg.c — every image/video format other than PNG and JPEG, through FFmpeg's
 * libavformat/libavcodec/libswscale (a video gives the frame at at_seconds). Built only when the
 * FFmpeg development libraries are found; engine/image_io_noffmpeg.c replaces it otherwise. */
#define _POSIX_C_SOURCE 200809L
#include "image_io_ffmpeg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

/* ------------------------------------------------------------------------------------------ */
/* FFmpeg (other image formats, videos)                                                        */
/* ------------------------------------------------------------------------------------------ */

static const char *av_err(int e, char *buf, size_t n) {
    av_strerror(e, buf, n);
    return buf;
}

/* frame (any pixel format) -> RGB24 through swscale, same size. */
static jn_status frame_to_rgb(const AVFrame *f, const char *what, jn_rgb_image *out, jn_error *err) {
    jn_status st = jn_image_check_size(what, f->width, f->height, err);
    if (st) return st;
    enum AVPixelFormat fmt = (enum AVPixelFormat)f->format;
    if (fmt == AV_PIX_FMT_RGB24) { /* direct copy, no swscale involved */
        if ((st = jn_image_alloc_rgb(out, f->width, f->height, what, err))) return st;
        for (int y = 0; y < f->height; y++)
            memcpy(out->rgb + (size_t)y * f->width * 3, f->data[0] + (ptrdiff_t)y * f->linesize[0], (size_t)f->width * 3);
        return JN_OK;
    }
    struct SwsContext *sws =
        sws_getContext(f->width, f->height, fmt, f->width, f->height, AV_PIX_FMT_RGB24,
                       SWS_POINT | SWS_BITEXACT | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!sws)
        return jn_fail(err, JN_ERR_FORMAT, "%s: cannot convert pixel format %s to RGB", what,
                       av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?");
    /* YUV sources: honour the stream's matrix and range (defaults: BT.601, limited range). */
    int *inv_table = NULL, *table = NULL, src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(sws, &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                                 &saturation) >= 0) {
        int cs = f->colorspace == AVCOL_SPC_UNSPECIFIED || f->colorspace == AVCOL_SPC_RGB ? SWS_CS_DEFAULT
                                                                                           : (int)f->colorspace;
        if (f->color_range == AVCOL_RANGE_JPEG) src_range = 1;
        sws_setColorspaceDetails(sws, sws_getCoefficients(cs), src_range, table, dst_range, brightness, contrast,
                                 saturation);
    }
    if ((st = jn_image_alloc_rgb(out, f->width, f->height, what, err))) {
        sws_freeContext(sws);
        return st;
    }
    uint8_t *dst[4] = {out->rgb, NULL, NULL, NULL};
    int dst_ls[4] = {f->width * 3, 0, 0, 0};
    int got = sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_ls);
    sws_freeContext(sws);
    if (got != f->height) {
        jn_rgb_image_free(out);
        return jn_fail(err, JN_ERR_FORMAT, "%s: pixel format conversion to RGB failed", what);
    }
    return JN_OK;
}

jn_status jn_image_decode_ffmpeg(const char *path, double at_seconds, jn_rgb_image *out, jn_error *err) {
    char eb[128];
    AVFormatContext *fmt = NULL;
    AVCodecContext *cc = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL, *last = NULL; /* last: the latest frame before the target time */
    jn_status st = JN_OK;
    int ret;

    av_log_set_level(AV_LOG_QUIET); /* the library never prints */
    /* Local files only: a path like "http://..." or "concat:..." must not reach the network. */
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    ret = avformat_open_input(&fmt, path, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        return jn_fail(err, JN_ERR_FORMAT, "%s: not a PNG, JPEG or any image/video format FFmpeg can read (%s)", path,
                       av_err(ret, eb, sizeof eb));
    }
    /* FFmpeg's "tty" demuxer renders any text file as ANSI art: not an image. */
    if (fmt->iformat->name && strcmp(fmt->iformat->name, "tty") == 0) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: not an image or video file (looks like text)", path);
        goto done;
    }
    if ((ret = avformat_find_stream_info(fmt, NULL)) < 0) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: cannot read stream info (%s)", path, av_err(ret, eb, sizeof eb));
        goto done;
    }
    const AVCodec *dec = NULL;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (si < 0 || !dec) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: no image or video stream that FFmpeg can decode (%s)", path,
                     av_err(si < 0 ? si : AVERROR_DECODER_NOT_FOUND, eb, sizeof eb));
        goto done;
    }
    AVStream *s = fmt->streams[si];
    if (s->codecpar->width || s->codecpar->height) {
        if ((st = jn_image_check_size(path, s->codecpar->width, s->codecpar->height, err))) goto done;
    }
    cc = avcodec_alloc_context3(dec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    last = av_frame_alloc();
    if (!cc || !pkt || !frame || !last) {
        st = jn_fail(err, JN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((ret = avcodec_parameters_to_context(cc, s->codecpar)) < 0 || (ret = avcodec_open2(cc, dec, NULL)) < 0) {
        st = jn_fail(err, JN_ERR_FORMAT, "%s: cannot open the %s decoder (%s)", path, dec->name,
                     av_err(ret, eb, sizeof eb));
        goto done;
    }

    /* Target time in stream ticks (rounded up so a frame exactly at t is taken). */
    const int64_t start = s->start_time != AV_NOPTS_VALUE ? s->start_time : 0;
    int64_t target = INT64_MIN;
    /* Still-image demuxers ("image2", "bmp_pipe", "webp_pipe", ...): at_seconds does not apply. */
    const char *dn = fmt->iformat->name ? fmt->iformat->name : "";
    const size_t dl = strlen(dn);
    const int still = strcmp(dn, "image2") == 0 || (dl > 5 && strcmp(dn + dl - 5, "_pipe") == 0);
    if (at_seconds > 0 && !still) {
        if (at_seconds > 1e9) {
            st = jn_fail(err, JN_ERR_USAGE, "%s: frame time %.3f s is out of range", path, at_seconds);
            goto done;
        }
        int64_t us = (int64_t)(at_seconds * 1e6 + 0.5);
        target = start + av_rescale_q_rnd(us, AV_TIME_BASE_Q, s->time_base, AV_ROUND_UP);
        if (av_seek_frame(fmt, si, target, AVSEEK_FLAG_BACKWARD) < 0) {
            /* not seekable: decode from wherever we are (the start) */
        } else {
            avcodec_flush_buffers(cc);
        }
    }

    int n_frames = 0, found = 0, eof = 0, drained = 0;
    double last_t = 0;
    while (!found && !drained) {
        if (!eof) {
            ret = av_read_frame(fmt, pkt);
            if (ret == AVERROR_EOF || ret == AVERROR(EIO) /* some demuxers */) {
                eof = 1;
                avcodec_send_packet(cc, NULL); /* drain */
            } else if (ret < 0) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: read error (%s)", path, av_err(ret, eb, sizeof eb));
                goto done;
            } else {
                if (pkt->stream_index == si) {
                    ret = avcodec_send_packet(cc, pkt);
                    if (ret < 0 && ret != AVERROR(EAGAIN)) {
                        av_packet_unref(pkt);
                        st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt %s data (%s)", path, dec->name,
                                     av_err(ret, eb, sizeof eb));
                        goto done;
                    }
                }
                av_packet_unref(pkt);
            }
        }
        for (;;) {
            ret = avcodec_receive_frame(cc, frame);
            if (ret == AVERROR(EAGAIN) && !eof) break;
            if (ret == AVERROR_EOF || ret == AVERROR(EAGAIN)) {
                drained = 1;
                break;
            }
            if (ret < 0) {
                st = jn_fail(err, JN_ERR_FORMAT, "%s: corrupt %s data (%s)", path, dec->name,
                             av_err(ret, eb, sizeof eb));
                goto done;
            }
            n_frames++;
            int64_t pts = frame->best_effort_timestamp;
            if (pts != AV_NOPTS_VALUE) last_t = (double)(pts - start) * av_q2d(s->time_base);
            if (target == INT64_MIN || pts == AV_NOPTS_VALUE || pts >= target) {
                found = 1;
                break;
            }
            av_frame_unref(last);
            av_frame_move_ref(last, frame);
        }
    }
    if (!found && n_frames > 0 && last_t <= 0) {
        /* every frame is at time 0: a still image (e.g. a one-frame GIF), at_seconds does not apply */
        av_frame_unref(frame);
        av_frame_move_ref(frame, last);
        found = 1;
    }
    if (!found) {
        if (n_frames == 0) {
            st = jn_fail(err, JN_ERR_FORMAT, "%s: no frame could be decoded (%s)", path, dec->name);
        } else {
            st = jn_fail(err, JN_ERR_USAGE, "%s: no frame at %.3f s (the last frame is at %.3f s)", path, at_seconds,
                         last_t);
        }
        goto done;
    }
    st = frame_to_rgb(frame, path, out, err);
done:
    av_frame_free(&frame);
    av_frame_free(&last);
    av_packet_free(&pkt);
    avcodec_free_context(&cc);
    avformat_close_input(&fmt);
    return st;
}

