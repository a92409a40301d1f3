/* cli/cmd_convert.c — `janus convert MODEL_DIR -o FILE.gguf [--type T] [--keep-unused] [--force] [-v]`.
 *
 * Thin front end over janus_convert(): parses flags, prints the output path on stdout on success,
 * progress on stderr. Exit codes: 0 ok, 1 runtime, 2 usage (bad flag, output exists without
 * --force), 3 bad or missing input. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: janus convert MODEL_DIR -o FILE.gguf [--type f32|f16|bf16|q8_0|q4_0] [--keep-unused] [--force] [-v]\n"
            "\n"
            "Converts a Janus-Pro download, official (deepseek-ai) or transformers (deepseek-community)\n"
            "layout (config.json, pytorch_model*.bin or *.safetensors, tokenizer and processor files),\n"
            "into one GGUF file.\n"
            "\n"
            "  -o, --output FILE   output .gguf (written to a temporary file, renamed at the end)\n"
            "      --type T        bf16 (default; exact copy of the official weights), f16, f32,\n"
            "                      q8_0 or q4_0 (LLM linear weights and gen_head quantized, the rest bf16)\n"
            "      --keep-unused   keep tensors inference never reads (VQ encoder, SigLIP attn_pool, ...)\n"
            "  -f, --force         overwrite an existing output file\n"
            "  -v, --verbose       say what is converted and how long it took (stderr)\n");
}

/* --force must never replace an input: returns the name of the file in model_dir that out_path
 * is (same device and inode, through any symlink or hard link), or NULL. Inputs are the
 * directory's .json, .bin and .safetensors files (configs, tokenizer, weights, shard indexes);
 * an earlier output (.gguf) in the same directory may be replaced. */
static int is_input_name(const char *n) {
    const char *dot = strrchr(n, '.');
    return dot && (!strcmp(dot, ".json") || !strcmp(dot, ".bin") || !strcmp(dot, ".safetensors"));
}

static const char *output_is_input(const char *model_dir, const char *out_path, char *name, size_t name_size) {
    struct stat so, si;
    if (stat(out_path, &so) != 0) return NULL; /* a new file cannot be an input */
    DIR *d = opendir(model_dir);
    if (!d) return NULL; /* janus_convert reports an unreadable MODEL_DIR */
    const char *hit = NULL;
    char p[4096];
    for (struct dirent *e; !hit && (e = readdir(d));) {
        if (!is_input_name(e->d_name) || (size_t)snprintf(p, sizeof p, "%s/%s", model_dir, e->d_name) >= sizeof p)
            continue;
        if (stat(p, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
            snprintf(name, name_size, "%s", e->d_name);
            hit = name;
        }
    }
    closedir(d);
    return hit;
}

int cmd_convert(int argc, char **argv) {
    janus_convert_params p = janus_convert_default_params();
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) return cli_usage_error("convert", "%s needs a file name", a);
            p.out_path = argv[i];
        } else if (!strcmp(a, "-t")) { /* -t is the thread count in every janus command */
            return cli_usage_error("convert", "-t is the thread count in janus (convert streams on one thread); the "
                                              "weight type is --type T");
        } else if (!strcmp(a, "--type")) {
            if (++i >= argc) return cli_usage_error("convert", "%s needs a type", a);
            p.type = argv[i];
        } else if (!strncmp(a, "--type=", 7)) {
            p.type = a + 7;
        } else if (!strcmp(a, "--keep-unused")) {
            p.keep_unused = 1;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            p.force = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("convert", "unknown option '%s'", a);
        } else if (!p.model_dir) {
            p.model_dir = a;
        } else {
            return cli_usage_error("convert", "unexpected argument '%s' (one MODEL_DIR only)", a);
        }
    }
    if (!p.model_dir) return cli_usage_error("convert", "missing MODEL_DIR");
    if (!p.out_path) return cli_usage_error("convert", "missing -o FILE.gguf");
    static const char *const TYPES[] = {"f32", "f16", "bf16", "q8_0", "q4_0"};
    int ok = 0;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) ok |= !strcmp(p.type, TYPES[i]);
    if (!ok) return cli_usage_error("convert", "unknown --type '%s' (expected f32, f16, bf16, q8_0 or q4_0)", p.type);
    char in_name[256];
    if (output_is_input(p.model_dir, p.out_path, in_name, sizeof in_name))
        return cli_usage_error("convert", "-o %s is %s of %s itself, an input of this conversion; choose another output",
                               p.out_path, in_name, p.model_dir);
    p.progress = cli_progress;
    if (verbose) fprintf(stderr, "janus convert: %s -> %s (type %s%s)\n", p.model_dir, p.out_path, p.type,
                         p.keep_unused ? ", keeping unused tensors" : "");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    janus_error err = {0};
    if (janus_convert(&p, &err) != JANUS_OK) return cli_fail("convert", &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (verbose)
        fprintf(stderr, "janus convert: done in %.1f s\n",
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    printf("%s\n", p.out_path);
    return 0;
}
