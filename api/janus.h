/* janus.h — the public C API of janus.c, a native engine for DeepSeek Janus-Pro (1B / 7B).
 *
 * Usage (error handling shortened):
 *
 *   janus_error err = {0};
 *   janus_model *m = janus_model_load("janus-pro-1b.gguf", NULL, &err);   // mmap, validate
 *   if (!m) { fprintf(stderr, "%s\n", err.msg); return 3; }
 *   janus_ask_params ap = janus_ask_default_params();
 *   const char *imgs[] = {"cat.png"};
 *   ap.images = imgs; ap.n_images = 1; ap.question = "What is in this picture?";
 *   char *answer = NULL;
 *   janus_ask(m, &ap, &answer, &err);                                      // greedy by default
 *   janus_gen_params gp = janus_gen_default_params();
 *   gp.prompt = "a red fox in snow"; gp.n_images = 1; gp.seed = 42;
 *   janus_image *img = NULL;                                                  // 384x384 RGB
 *   janus_generate(m, &gp, &img, NULL, &err);
 *   janus_image_write(&img[0], "fox.png", NULL, 0, 0, 0, &err);          // no overwrite
 *   janus_images_free(img, 1); free(answer); janus_model_free(m);
 *
 * Conventions: functions return 0 (JANUS_OK) or a negative status and fill janus_error with a
 * message naming the file/tensor/flag and what was expected. The library never exits and never
 * prints unless given a callback or a FILE. Objects are not thread-safe unless stated; a model may
 * be shared by several sessions once loaded. */
#ifndef JANUS_H
#define JANUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JANUS_VERSION_STRING "0.1.0"

enum {
    JANUS_OK = 0,
    JANUS_ERR_RUNTIME = -1, /* CLI exit 1 */
    JANUS_ERR_USAGE = -2,   /* CLI exit 2 */
    JANUS_ERR_FORMAT = -3,  /* CLI exit 3: model or input format */
    JANUS_ERR_NOMEM = -4,   /* CLI exit 1 */
    JANUS_ERR_IO = -5,      /* CLI exit 3 (missing/unreadable input) */
};

/* Same layout as the engine's jn_error. */
typedef struct janus_error {
    int code;
    char msg[1024];
} janus_error;

/* CLI exit code for a status: 0, 1 (runtime), 2 (usage), 3 (model/input format or missing file). */
int janus_exit_code(int status);

/* Progress callback for long work: done of total units, with a short label ("convert",
 * "generate", "encode"). Return non-zero to cancel (the call then fails with JANUS_ERR_RUNTIME). */
typedef int (*janus_progress_fn)(void *user, const char *what, long done, long total);

/* ---------------- conversion and inspection ---------------- */

typedef struct janus_convert_params {
    const char *model_dir;   /* official HF download: config.json, pytorch_model*.bin or *.safetensors, tokenizer files */
    const char *out_path;    /* .gguf to create (written to a temporary file, renamed at the end) */
    const char *type;        /* "bf16" (default), "f16", "f32", "q8_0", "q4_0" */
    int keep_unused;         /* keep tensors inference never reads (VQ encoder, attn_pool, ...) */
    int force;               /* overwrite an existing out_path */
    janus_progress_fn progress;
    void *progress_user;
} janus_convert_params;

janus_convert_params janus_convert_default_params(void);
int janus_convert(const janus_convert_params *p, janus_error *err);

/* Prints metadata and a tensor table (name, dtype, shape, bytes) of a GGUF file to out. */
int janus_info(const char *gguf_path, FILE *out, int show_all_metadata, janus_error *err);

/* ---------------- text tokenizer ---------------- */

typedef struct janus_tokenizer janus_tokenizer;

/* From a Hugging Face tokenizer.json (tokenizer_config.json beside it is read if present). */
janus_tokenizer *janus_tokenizer_load_json(const char *tokenizer_json_path, janus_error *err);
/* From a converted model file (the tokenizer is stored in the GGUF). */
janus_tokenizer *janus_tokenizer_load_gguf(const char *gguf_path, janus_error *err);
void janus_tokenizer_free(janus_tokenizer *t);
/* add_special != 0: what Python transformers' tokenizer.encode(text) returns (BOS prepended when
 * add_bos_token). *ids is malloc'ed. Invalid UTF-8 input is an error. */
int janus_tokenizer_encode(janus_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                           size_t *n_ids, janus_error *err);
/* *text is malloc'ed and NUL-terminated (may contain NUL: use *len). */
int janus_tokenizer_decode(janus_tokenizer *t, const int32_t *ids, size_t n_ids, int skip_special, char **text,
                           size_t *len, janus_error *err);
/* Id of a token string (added/special tokens included), -1 if absent. */
int32_t janus_tokenizer_token_id(const janus_tokenizer *t, const char *token);

/* ---------------- model ---------------- */

typedef struct janus_model janus_model;

typedef struct janus_load_params {
    const char *backend;     /* "cpu" (default) or "cuda" */
    int n_threads;           /* <= 0: all cores */
    int verbose;             /* log to stderr */
    const char *kv_type;     /* LM K/V cache element type of every session: "f16" (default, NULL:
                                half the cache memory and attention bandwidth), "q8_0" (ggml
                                blocks, 0.53x the f16 bytes, for large batches; cpu backend
                                only), "bf16" or "f32" (the exact cache the official code keeps
                                in float32) */
} janus_load_params;

janus_load_params janus_load_default_params(void);
janus_model *janus_model_load(const char *gguf_path, const janus_load_params *p, janus_error *err);
void janus_model_free(janus_model *m);
janus_tokenizer *janus_model_tokenizer(janus_model *m); /* owned by the model */
const char *janus_model_name(const janus_model *m);

/* ---------------- images ---------------- */

typedef struct janus_image {
    int width, height;  /* RGB, 3 bytes per pixel, row-major */
    uint8_t *rgb;
} janus_image;

/* Decodes any supported file (PNG, JPEG, and whatever FFmpeg reads; for videos the frame at
 * at_seconds, < 0 for the first) to RGB exactly as PIL's Image.open(f).convert("RGB"). */
int janus_image_load(const char *path, double at_seconds, janus_image *out, janus_error *err);
/* The same from bytes in memory (an upload, a database blob): PNG and JPEG, decoded exactly as
 * janus_image_load decodes them; other formats give JANUS_ERR_FORMAT (write them to a file for
 * janus_image_load). what names the data in messages (NULL: "image data"). */
int janus_image_load_memory(const void *data, size_t len, const char *what, janus_image *out, janus_error *err);
/* Writes PNG or JPEG by extension (.png / .jpg / .jpeg). PNG gets tEXt/iTXt chunks from n_kv
 * key/value pairs: text_kv holds 2*n_kv strings (key0, value0, key1, value1, ...); JPEG gets the
 * value of the key "parameters" (if present) as a COM segment. Writes a
 * temporary file and moves it into place; refuses to overwrite an existing file unless force.
 * jpeg_quality 1..100 (<= 0: 75). */
int janus_image_write(const janus_image *img, const char *path, const char *const *text_kv, int n_kv, int force,
                      int jpeg_quality, janus_error *err);
void janus_image_free(janus_image *img);          /* frees img->rgb */
void janus_images_free(janus_image *imgs, int n); /* frees each and the array */

/* ---------------- understanding ---------------- */

typedef int (*janus_token_fn)(void *user, const char *utf8_piece, size_t len); /* non-zero: stop */

/* An earlier turn of a conversation: user text (may contain <image_placeholder>) and the
 * assistant's answer to it. */
typedef struct janus_turn_text {
    const char *user;
    const char *assistant;
} janus_turn_text;

typedef struct janus_ask_params {
    const char *const *images; int n_images; /* image files, in placeholder order over the whole conversation */
    const janus_turn_text *history; int n_history; /* earlier turns (optional) */
    double at_seconds;          /* frame time for videos (< 0: first frame) */
    const char *question;       /* the new user turn. If no turn contains <image_placeholder>, one per
                                   image is put before the question, each followed by "\n" */
    int max_tokens;             /* default 512 */
    float temperature;          /* 0 = greedy (default) */
    int top_k;                  /* 0 = off */
    float top_p;                /* 1 = off */
    uint64_t seed;
    const char *dump_dir;       /* write intermediates (.npy/.json) here, NULL = no */
    janus_token_fn on_token; void *on_token_user; /* streamed UTF-8 pieces (never split a character) */
    const janus_image *rgb_images; int n_rgb_images; /* decoded images (uploads, video frames), placed
                                   after the files of `images` in placeholder order */
} janus_ask_params;

janus_ask_params janus_ask_default_params(void);
/* *answer is malloc'ed (special tokens skipped). */
int janus_ask(janus_model *m, const janus_ask_params *p, char **answer, janus_error *err);

/* ---------------- generation ---------------- */

typedef struct janus_gen_params {
    const char *prompt;
    int n_images;               /* parallel images (2n CFG rows in one batch) */
    float cfg;                  /* default 5 */
    float temperature;          /* default 1 */
    int top_k;                  /* 0 = off (default, as official) */
    float top_p;                /* 1 = off (default) */
    uint64_t seed;
    const int32_t *teacher_tokens; /* [576] fed instead of sampling (all images), NULL = sample */
    const char *dump_dir;
    janus_progress_fn progress; void *progress_user;
    const char *negative_prompt; /* NULL: the official unconditional row (BOS, pads, <begin_of_image>);
                                    else that row is this text in the prompt template (an extension) */
    int first_index;            /* index of the first image in its batch (default 0): image i of this call
                                   samples as image first_index + i, so n_images = 1, first_index = K
                                   gives exactly image K of a larger batch with the same seed */
} janus_gen_params;

janus_gen_params janus_gen_default_params(void);
/* *images: malloc'ed array of n_images 384x384 images; *tokens (optional, may be NULL):
 * malloc'ed [n_images, 576] image token ids. */
int janus_generate(janus_model *m, const janus_gen_params *p, janus_image **images, int32_t **tokens,
                   janus_error *err);
/* VQ-decodes n_images grids of 576 token ids each into images. */
int janus_decode_tokens(janus_model *m, const int32_t *tokens, int n_images, janus_image **images,
                        janus_error *err);

/* ---------------- sessions: the resident engine ----------------
 *
 * A janus_model is immutable after janus_model_load and may be shared by any number of threads.
 * A janus_session, created from a model, owns everything a request mutates: its own backend
 * instance (CPU thread pool and scratch, or CUDA stream), the KV cache, activations, the encoded
 * images of a conversation and the VQ decoder's buffers, all reused from request to request.
 * Sessions on one model run concurrently from different threads and give bit-for-bit the results
 * they give one after another. One session must not be used by two threads at once.
 *
 *   janus_session *s = janus_session_create(m, NULL, &err);
 *   janus_chat_add_image_file(s, "cat.png", -1, &err);        // encoded once, now
 *   janus_ask_params ap = janus_ask_default_params();
 *   ap.question = "What is in this picture?";
 *   janus_chat_ask(s, &ap, &answer, &err);                      // prefill + decode
 *   ap.question = "And what colour is it?";
 *   janus_chat_ask(s, &ap, &answer2, &err);                     // continues from the cached KV
 *   janus_session_free(s);
 */
typedef struct janus_session janus_session;
enum { JANUS_GEN_RUNNING = 0, JANUS_GEN_DONE = 1, JANUS_GEN_CANCELLED = 2 }; /* request states */

typedef struct janus_session_params {
    const char *backend;  /* NULL: the model's backend ("cpu", "cuda", "ref") */
    int n_threads;        /* CPU threads of this session; <= 0: the model's load-time setting */
    int max_rows;         /* LM rows one forward may hold (understanding sequences, or 2 per image
                             being generated); <= 0: 8. A generation batch takes a KV cache of
                             max_rows x (prompt + 576) positions (1B: 384 KiB each in f32). */
    int max_ctx;          /* KV positions per row; <= 0: the model's context. Memory for the KV cache
                             is taken as requests need it, never more than max_rows x max_ctx. */
    size_t mem_limit;     /* bytes this session may allocate for KV cache and activations before it
                             refuses a request (with the numbers and what would fit);
                             0: the memory available to the process (MemAvailable, cgroup limit);
                             SIZE_MAX: no check */
} janus_session_params;

janus_session_params janus_session_default_params(void);
janus_session *janus_session_create(janus_model *m, const janus_session_params *p, janus_error *err);
void janus_session_free(janus_session *s);
janus_model *janus_session_model(janus_session *s);

/* What a workload needs, computed before anything is allocated. */
typedef struct janus_memory_plan {
    size_t weights;      /* the model's tensors (mapped from the file on the CPU) */
    size_t kv_cache;     /* LM K/V cache: rows x ctx positions */
    size_t activations;  /* LM activations for the largest forward */
    size_t vision;       /* SigLIP buffers for the images encoded at once */
    size_t vq_decoder;   /* VQ decoder buffers */
    size_t total;        /* all of the above */
    size_t available;    /* memory the process may still take (MemAvailable, cgroup limit); 0: unknown */
} janus_memory_plan;
/* rows: LM rows (2 per generated image, 1 per understanding sequence); ctx: positions per row
 * (<= 0: a 64-token prompt + 576 image tokens); prefill_rows: rows of the largest forward (<= 0:
 * 2 x 64); images: encoded at once (0: no vision); vq: 1 if the VQ decoder is used. */
int janus_memory_plan_for(const janus_model *m, int rows, int ctx, int prefill_rows, int images, int vq,
                          janus_memory_plan *out);
/* Memory the process may still take: min(MemAvailable, cgroup limit - usage); 0 if unknown. */
size_t janus_memory_available(void);

/* What a session has done so far (timings in seconds of wall-clock time). */
typedef struct janus_session_stats {
    long images_encoded;    /* SigLIP encodes run (one per image) */
    long tokens_prefilled;  /* prompt rows pushed through the LM in prefill calls */
    long tokens_decoded;    /* understanding tokens decoded (one forward row each) */
    long gen_steps;         /* generation steps (one batched forward of all live rows each) */
    long images_decoded;    /* VQ decodes */
    double encode_s, prefill_s, decode_s, gen_s, vq_s;
} janus_session_stats;
void janus_session_get_stats(const janus_session *s, janus_session_stats *out);

/* ---- understanding: a conversation kept in the session ----
 * The conversation is a list of turns; images are attached to the next user turn. Each call to
 * janus_chat_ask appends the user turn and the answer. Only the tokens that differ from what the
 * KV cache already holds are prefilled, and every image is encoded exactly once, when added, so
 * a follow-up question costs its own tokens only. The answer to a turn is exactly what janus_ask
 * gives for the same images with the earlier turns as history. */
int janus_chat_reset(janus_session *s); /* forgets turns and images */
/* Decodes, preprocesses and encodes an image file (frame at at_seconds for videos, < 0: first). */
int janus_chat_add_image_file(janus_session *s, const char *path, double at_seconds, janus_error *err);
/* The same from decoded RGB pixels (e.g. a server's upload). */
int janus_chat_add_image(janus_session *s, const janus_image *img, janus_error *err);
/* p->question is the new user turn; p->images (if any) are added first, as by
 * janus_chat_add_image_file; p->history must be empty (the session holds the history). If the
 * question has no <image_placeholder>, one per image attached to this turn is put before it, each
 * followed by "\n". Sampling, max_tokens, on_token and dump_dir as in janus_ask. *answer
 * (optional) is malloc'ed. When the answer stops at max_tokens or at the context end rather than
 * at end-of-sentence, *finish_reason (optional) is "length", else "stop". */
int janus_chat_ask(janus_session *s, const janus_ask_params *p, char **answer, const char **finish_reason,
                   janus_error *err);
/* Turns so far (user text as sent to the model, with its image tags, and the answer). */
int janus_chat_n_turns(const janus_session *s);
const janus_turn_text *janus_chat_turn(const janus_session *s, int i);

/* ---- understanding: independent questions side by side (captioning, a server) ----
 * Up to max_seqs sequences decode together, one batched forward per step; a finished sequence's
 * slot is free at once for the next question (continuous batching). Each answer is exactly what
 * janus_ask gives for the same parameters, whatever else runs in the batch. */
typedef struct janus_ask_batch janus_ask_batch;
/* max_ctx: positions per sequence (prompt + answer); <= 0: one image + 256 tokens + max_tokens of
 * the first request. */
janus_ask_batch *janus_ask_batch_create(janus_session *s, int max_seqs, int max_ctx, janus_error *err);
void janus_ask_batch_free(janus_ask_batch *b);
/* Adds n questions (history allowed; dump_dir ignored). Every image of the n is encoded in one
 * SigLIP call, then each prompt is prefilled. ids[i] receives request i's id (>= 0) or its negative
 * status when it alone failed (unreadable image, prompt too long: errs[i], if errs is given, says
 * why). Returns the number added, or a negative status when nothing could run (no free sequence
 * for all n: add fewer; a backend failure: then every question not added has that status in
 * ids[i], the ones added before it keep their ids and run). */
int janus_ask_batch_add(janus_ask_batch *b, const janus_ask_params *ps, int n, int *ids, janus_error *errs,
                        janus_error *err);
/* One decode step for every running question; returns how many still run, or a negative status. */
int janus_ask_batch_step(janus_ask_batch *b, janus_error *err);
int janus_ask_batch_free_seqs(const janus_ask_batch *b);
int janus_ask_batch_n_live(const janus_ask_batch *b);
/* JANUS_GEN_RUNNING / JANUS_GEN_DONE / JANUS_GEN_CANCELLED, -1 for an unknown id; *n_tokens: answer
 * tokens so far. */
int janus_ask_batch_state(const janus_ask_batch *b, int id, int *n_tokens);
/* Prompt tokens of a request (its image placeholders expanded to 576 image tokens each), until it
 * is taken; -1 for an unknown id. */
int janus_ask_batch_prompt_tokens(const janus_ask_batch *b, int id);
int janus_ask_batch_cancel(janus_ask_batch *b, int id);
/* Moves out a finished answer (malloc'ed text, special tokens skipped); the id is then forgotten.
 * finish_reason: "stop" (end of sentence or on_token asked to stop) or "length". */
int janus_ask_batch_take(janus_ask_batch *b, int id, char **answer, const char **finish_reason, int *n_tokens,
                         janus_error *err);

/* ---- generation: the step loop, several independent requests in one batched forward ----
 * A batch holds requests with their own prompt, n_images, seed, cfg, temperature, top-k/p and
 * progress callback; each takes 2 x n_images LM rows (cond, uncond per image). Every step runs one
 * forward over all live rows of all requests. Requests may join a running batch (they prefill at
 * once and start at their own step 0) and leave it when done or cancelled. A request's images
 * depend only on its own parameters: the same as janus_generate with the same parameters. */
typedef struct janus_gen_batch janus_gen_batch;
janus_gen_batch *janus_gen_batch_create(janus_session *s, janus_error *err);
void janus_gen_batch_free(janus_gen_batch *b);
/* Adds a request (tokenizes and prefills its rows). Returns a request id >= 0, or a negative
 * status: JANUS_ERR_USAGE for bad parameters or when its rows do not fit beside the live ones
 * (the message says how many rows are free). p is copied (the prompt too). */
int janus_gen_batch_add(janus_gen_batch *b, const janus_gen_params *p, janus_error *err);
/* One step for every live request. Returns the number of requests still running afterwards
 * (0: all done), or a negative status (backend failure: every live request fails). A request
 * whose progress callback returns non-zero is cancelled. */
int janus_gen_batch_step(janus_gen_batch *b, janus_error *err);
/* Cancels a queued or running request (its rows are freed at once). */
int janus_gen_batch_cancel(janus_gen_batch *b, int id);
/* State and steps done (of 576) of request id; -1 for an unknown id. */
int janus_gen_batch_state(const janus_gen_batch *b, int id, int *steps_done);
int janus_gen_batch_n_live(const janus_gen_batch *b);
int janus_gen_batch_free_rows(const janus_gen_batch *b);
/* Frees the batch's K/V cache and step buffers while no request is running (a 1B batch of one
 * image holds ~240 MB of cache), e.g. before the last VQ decodes; the next add re-creates them.
 * JANUS_ERR_USAGE while requests run. Finished requests keep their tokens. */
int janus_gen_batch_release_memory(janus_gen_batch *b, janus_error *err);
/* Moves out the image tokens [n_images, 576] of a finished request (malloc'ed; the request is
 * then forgotten). */
int janus_gen_batch_take_tokens(janus_gen_batch *b, int id, int32_t **tokens, int *n_images, janus_error *err);
/* VQ-decodes n_images grids of 576 ids each with the session's reused decoder buffers. */
int janus_session_decode(janus_session *s, const int32_t *tokens, int n_images, janus_image **images,
                         janus_error *err);

/* ---------------- benchmarks ---------------- */

typedef struct janus_bench_params {
    int vision;          /* time SigLIP + aligner on one image (random pixels) */
    int text;            /* time prefill of prefill_tokens and decode of decode_tokens */
    int prefill_tokens;  /* default 600 (a 576-token image plus a short question) */
    int decode_tokens;   /* default 32 */
    int gen_images;      /* n for the generation step loop (0 = skip) */
    int gen_steps;       /* steps to time (576 = a whole image; fewer are extrapolated) */
    int vq;              /* time one VQ decode */
    janus_progress_fn progress; void *progress_user;
} janus_bench_params;

typedef struct janus_bench_result {
    double vision_s;            /* one image: SigLIP + aligner */
    double prefill_tok_per_s;
    double decode_tok_per_s;    /* text decode incl. lm_head */
    double gen_prefill_s;       /* CFG prompt prefill (2n rows) */
    double gen_step_s;          /* mean seconds per image-token step (all 2n rows) */
    double gen_image_s;         /* prefill + 576 steps + VQ decode of n images, per image */
    double vq_decode_s;         /* one image */
    size_t peak_rss_bytes;
} janus_bench_result;

janus_bench_params janus_bench_default_params(void);
int janus_bench(janus_model *m, const janus_bench_params *p, janus_bench_result *r, janus_error *err);

#ifdef __cplusplus
}
#endif
#endif
