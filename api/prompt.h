/* api/prompt.h — chat template helpers (see prompt.c). */
#ifndef JANUS_API_PROMPT_H
#define JANUS_API_PROMPT_H

#include "internal.h"
#include "engine/io/json.h"

typedef struct janus_turn {
    const char *role;
    const char *content;
} janus_turn;

/* Python str.strip(): [*begin, *begin + *len) of s[0..n). */
void janus_strip(const char *s, size_t n, size_t *begin, size_t *len);
/* malloc'ed prompt string; NULL on out of memory. system may be NULL/"" (generation). */
char *janus_format_conversation(const janus_prompt_cfg *p, const char *system, const janus_turn *turns, int n_turns);

#endif
