/* decoder/chat_template.h — the Janus-Pro chat template and prompt roles (janus-spec §2.1, §4.1),
 * with the special-token ids the pipelines need, all read from GGUF metadata (decoder/table.c:
 * janus.prompt.*, janus.token.*).
 *
 * The "deepseek" template: system + sep, then "role: content" + (sep | sep2) alternating, an empty
 * content gives "role:", the whole string stripped (Python str.strip()). */
#ifndef JANUS_DECODER_CHAT_TEMPLATE_H
#define JANUS_DECODER_CHAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jn_chat_template {
    char *system, *sep, *sep2, *user_role, *assistant_role, *image_tag, *image_start_tag, *image_end_tag, *pad_tag;
    int32_t bos, eos, pad, image_placeholder, image_start, image_end;
} jn_chat_template;

typedef struct jn_chat_turn {
    const char *role;
    const char *content;
} jn_chat_turn;

/* Python str.strip(): [*begin, *begin + *len) of s[0..n). */
void jn_py_strip(const char *s, size_t n, size_t *begin, size_t *len);
/* malloc'ed prompt string; NULL on out of memory. system may be NULL/"" (generation). */
char *jn_chat_format(const jn_chat_template *p, const char *system, const jn_chat_turn *turns, int n_turns);

#ifdef __cplusplus
}
#endif
#endif
