/* cli/caption_input.h — what `janus caption` works on: the items named by its input arguments
 * (image files, folders searched recursively, @list files, "-" for a list on stdin, videos sampled
 * into frames), their shard, and the text of list files. No model code here. */
#ifndef JANUS_CLI_CAPTION_INPUT_H
#define JANUS_CLI_CAPTION_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* One unit of work: an image file, or one frame of a video. */
typedef struct caption_item {
    char *path;         /* what is opened: the input argument, or the argument joined with rel */
    char *rel;          /* path relative to the input argument it came from ('/' separated): the
                           shard hash and the hf file_name, the same wherever the data is mounted */
    double frame_time;  /* seconds into a video; < 0 for an image */
} caption_item;

typedef struct caption_items {
    caption_item *v;
    size_t n, cap;
} caption_items;

void caption_items_free(caption_items *items);
/* Appends a copy of path/rel; 0 or -1 (out of memory). */
int caption_items_push(caption_items *items, const char *path, const char *rel, double frame_time);

/* Extension tests (case-insensitive), on the file name. */
int caption_is_image_name(const char *name);
int caption_is_video_name(const char *name);

/* Adds the items one input argument names, in a deterministic order: a folder's images and videos
 * sorted by relative path (hidden entries skipped), a list file's lines in their order (relative
 * lines are relative to the list file's folder; "-" reads the list from stdin, relative to the
 * current folder), any other argument as one file. Returns 0, or -1 with msg filled (unreadable
 * list file or folder, out of memory). */
int caption_collect(const char *arg, caption_items *out, char *msg, size_t msg_size);

/* The lines of a list file: '\n' or "\r\n" separated; empty lines and lines starting with '#' are
 * skipped. on_line returns non-zero to stop (that value is returned). A line holding a NUL byte
 * is an error: returns -1 with msg naming the line. */
typedef int (*caption_line_fn)(void *user, const char *line, size_t len, long line_no);
int caption_list_lines(const char *buf, size_t len, caption_line_fn on_line, void *user, char *msg, size_t msg_size);

/* 64-bit FNV-1a of a string: the shard hash and the per-item seed. */
uint64_t caption_hash(const char *s);
/* 1 when rel belongs to shard k of n (hash % n == k). */
int caption_in_shard(const char *rel, int k, int n);

/* Reads a whole file ("-": stdin) into a malloc'ed buffer (NUL-terminated); 0 or -1 with errno. */
int caption_read_file(const char *path, char **buf, size_t *len);

#endif
