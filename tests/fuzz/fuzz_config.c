/* tests/fuzz/fuzz_config.c — config.json as `janus convert` reads it: the input replaces
 * config.json in a copy of the tiny fixture's model directory that has no weights, so each run
 * parses config.json (and the unchanged preprocessor/processor/tokenizer files) and then stops at
 * "no weights found"; nothing is ever written. */
#include "fuzz_util.h"

#include "janus.h"

static void copy_fixture(const char *name) {
    static char buf[1 << 20];
    char rel[256], dst[600];
    snprintf(rel, sizeof rel, "janus-tiny-a/models/tiny-a/%s", name);
    size_t n = fuzz_read_fixture(rel, buf, sizeof buf);
    fuzz_file(dst, sizeof dst, name, (const uint8_t *)buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        static const char *const OTHERS[] = {"preprocessor_config.json", "processor_config.json",
                                             "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json"};
        for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++) copy_fixture(OTHERS[i]);
        ready = 1;
    }
    char path[600], out[600];
    fuzz_file(path, sizeof path, "config.json", data, size);
    snprintf(out, sizeof out, "%s/never-written.gguf", fuzz_dir());
    janus_convert_params p = janus_convert_default_params();
    p.model_dir = fuzz_dir();
    p.out_path = out;
    janus_error err = {0};
    int st = janus_convert(&p, &err);
    if (st == JANUS_OK || access(out, F_OK) == 0) abort(); /* there are no weights to convert */
    jn_error e = {(jn_status)err.code, {0}};
    snprintf(e.msg, sizeof e.msg, "%s", err.msg);
    fuzz_report("convert", &e);
    return 0;
}
