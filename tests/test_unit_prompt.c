/* tests/test_unit_prompt.c — the deepseek chat template (janus-spec §2.1, §4.1): system prompt +
 * sep, "role: content" + sep/sep2 alternating, empty content gives "role:", Python strip() of
 * every message and of the whole string (including Unicode whitespace). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "decoder/chat_template.h"

static void expect(const char *name, char *got, const char *want) {
    int ok = got && !strcmp(got, want);
    fprintf(stderr, "%s %s\n", ok ? "ok  " : "FAIL", name);
    if (!ok) {
        fprintf(stderr, "  got:  [%s]\n  want: [%s]\n", got ? got : "(null)", want);
        tu_failures++;
    }
    free(got);
}

int main(void) {
    jn_chat_template pc;
    memset(&pc, 0, sizeof pc);
    pc.sep = "\n\n";
    pc.sep2 = "<｜end▁of▁sentence｜>";
    const char *sys = "You are a helpful language and vision assistant.";
    jn_chat_turn t1[2] = {{"<|User|>", "<image_placeholder>\nDescribe this image in detail."}, {"<|Assistant|>", ""}};
    expect("single turn with system prompt", jn_chat_format(&pc, sys, t1, 2),
           "You are a helpful language and vision assistant.\n\n<|User|>: <image_placeholder>\nDescribe this image in "
           "detail.\n\n<|Assistant|>:");
    jn_chat_turn t2[2] = {{"<|User|>", "  A close-up photo of a sunflower.\n "}, {"<|Assistant|>", ""}};
    expect("generation prompt, message stripped", jn_chat_format(&pc, "", t2, 2),
           "<|User|>: A close-up photo of a sunflower.\n\n<|Assistant|>:");
    jn_chat_turn t3[4] = {{"<|User|>", "<image_placeholder>\nWhat is it?"},
                        {"<|Assistant|>", " A cat. "},
                        {"<|User|>", "And its colour?"},
                        {"<|Assistant|>", ""}};
    expect("two turns", jn_chat_format(&pc, sys, t3, 4),
           "You are a helpful language and vision assistant.\n\n<|User|>: <image_placeholder>\nWhat is it?\n\n"
           "<|Assistant|>: A cat.<｜end▁of▁sentence｜><|User|>: And its colour?\n\n<|Assistant|>:");
    jn_chat_turn t4[2] = {{"<|User|>", "\u3000\u00a0text\u2028"}, {"<|Assistant|>", ""}};
    expect("unicode whitespace stripped like Python", jn_chat_format(&pc, NULL, t4, 2),
           "<|User|>: text\n\n<|Assistant|>:");
    jn_chat_turn t5[2] = {{"<|User|>", "   "}, {"<|Assistant|>", ""}};
    expect("empty user content", jn_chat_format(&pc, NULL, t5, 2), "<|User|>:<|Assistant|>:");
    return TU_RESULT();
}
