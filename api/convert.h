/* api/convert.h — what the converter (api/convert.c) shares with the loader: the general.* keys it
 * writes, and what a model path is when it is not a converted GGUF file. */
#ifndef JANUS_API_CONVERT_H
#define JANUS_API_CONVERT_H

#include "engine/table.h"

/* general.*: written by the converter, general.architecture checked by the loader. */
extern const jn_key_spec janus_general_keys[];
extern const size_t janus_general_n_keys;

/* JN_OK when path may be a GGUF file (or cannot be inspected: the GGUF reader then reports it).
 * Otherwise JN_ERR_FORMAT with a message saying what path is (an official Janus-Pro download
 * folder, a transformers JanusForConditionalGeneration folder, a PyTorch .bin, a .safetensors
 * file, a shard index, another directory) and the exact `janus convert` command to run. */
jn_status janus_check_model_path(const char *path, jn_error *err);

#endif
