/* api/model_path.h — what a model path is, for the message when it is not a converted GGUF file
 * (api/convert.c, next to the converter that knows the layouts). */
#ifndef JANUS_API_MODEL_PATH_H
#define JANUS_API_MODEL_PATH_H

#include "engine/base.h"

/* JN_OK when path may be a GGUF file (or cannot be inspected: the GGUF reader then reports it).
 * Otherwise JN_ERR_FORMAT with a message saying what path is (an official Janus-Pro download
 * folder, a transformers JanusForConditionalGeneration folder, a PyTorch .bin, a .safetensors
 * file, a shard index, another directory) and the exact `janus convert` command to run. */
jn_status janus_check_model_path(const char *path, jn_error *err);

#endif
