/* tests/util/ckpt_gguf.h — writes a GGUF straight from an official checkpoint with the engine's
 * checkpoint reader and GGUF writer, independent of `janus convert`: component tests use it to
 * load golden weights even when the CLI is not built. 1-D tensors become f32, the rest bf16
 * (exact: the fixture is bf16). */
#ifndef JANUS_TESTS_CKPT_GGUF_H
#define JANUS_TESTS_CKPT_GGUF_H

#include <stddef.h>

#include "engine/io/gguf.h"

/* Maps an official tensor name to its GGUF name in buf, or returns NULL to skip the tensor. */
typedef const char *(*tu_name_map_fn)(const char *official, char *buf, size_t buf_size);
/* Writes the metadata keys the component needs. */
typedef void (*tu_kv_fn)(jn_gguf_writer *w);

/* 1 on success; failures are printed to stderr. */
int tu_write_gguf_from_ckpt(const char *model_dir, const char *path, tu_name_map_fn map, tu_kv_fn kv);

#endif
