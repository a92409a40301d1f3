#!/usr/bin/env python3
"""bench/export_llama_gguf.py — write the language model of a janus.c GGUF as a llama-architecture
GGUF, so that llama.cpp's llama-bench / llama-batched-bench can time the same LLM shape with the same
weight bytes (the comparison rows of bench/bench_all.sh). Pure Python (no numpy): metadata is
rewritten, tensor bytes are copied unchanged (q4_0 / q8_0 / bf16 / f32 blocks are ggml's own).

usage: bench/export_llama_gguf.py IN.gguf OUT.gguf [--head text|image]
  --head text   (default) the text head: lm_head [102400, 2048], the full token embedding
  --head image  the image-generation shape: gen_head.vision_head [16384, 2048] as the output layer
                and the first 16384 embedding rows (the CFG step loop's per-row work, minus the
                small gen-aligner / projector MLPs)
The tokenizer is written as "no_vocab" (llama-bench feeds random token ids). The result is for
timing only: the rotary layout and the image head's projector are not those of Janus-Pro.
"""
import struct
import sys

GGUF_TYPES = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
# ggml tensor types: (elements per block, bytes per block)
GGML_BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34), 30: (1, 2)}


class Reader:
    def __init__(self, f):
        self.f = f

    def take(self, fmt):
        n = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self.f.read(n))[0]

    def string(self):
        return self.f.read(self.take("Q")).decode("utf-8")

    def value(self, ty):
        if ty == 8:
            return self.string()
        if ty == 9:
            ety, n = self.take("I"), self.take("Q")
            return [self.value(ety) for _ in range(n)]
        return self.take(GGUF_TYPES[ty])


def read_gguf(path):
    f = open(path, "rb")
    r = Reader(f)
    if f.read(4) != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    if version != 3:
        sys.exit(f"{path}: GGUF version {version}, expected 3")
    kv = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.take("I"))
    tensors = {}
    for _ in range(n_tensors):
        name = r.string()
        ne = [r.take("Q") for _ in range(r.take("I"))]
        ty, off = r.take("I"), r.take("Q")
        tensors[name] = (ne, ty, off)
    align = kv.get("general.alignment", 32)
    data_start = (f.tell() + align - 1) // align * align
    return f, kv, tensors, data_start


def nbytes(ne, ty):
    if ty not in GGML_BLOCK:
        sys.exit(f"tensor type {ty} is not handled by this exporter")
    per, size = GGML_BLOCK[ty]
    n = 1
    for d in ne:
        n *= d
    return n // per * size


class Writer:
    def __init__(self, f):
        self.f = f

    def put(self, fmt, v):
        self.f.write(struct.pack("<" + fmt, v))

    def string(self, s):
        b = s.encode("utf-8")
        self.put("Q", len(b))
        self.f.write(b)

    def kv(self, key, ty, v):
        self.string(key)
        self.put("I", ty)
        if ty == 8:
            self.string(v)
        else:
            self.put(GGUF_TYPES[ty], v)


def main():
    args = sys.argv[1:]
    head = "text"
    if "--head" in args:
        i = args.index("--head")
        head = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or head not in ("text", "image"):
        sys.exit(__doc__)
    src, kv, tensors, data_start = read_gguf(args[0])
    if kv.get("general.architecture") != "janus-pro":
        sys.exit(f"{args[0]}: not a janus-pro GGUF")
    n_embd, n_layer = kv["janus.lm.n_embd"], kv["janus.lm.n_layer"]
    n_head, n_kv_head = kv["janus.lm.n_head"], kv["janus.lm.n_kv_head"]

    # (llama name, janus name, rows of the source to keep or None for all)
    names = [("output_norm.weight", "lm.norm.weight", None)]
    if head == "text":
        n_vocab = kv["janus.lm.n_vocab"]
        names += [("token_embd.weight", "lm.embed_tokens.weight", None), ("output.weight", "lm_head.weight", None)]
    else:
        n_vocab = kv["janus.gen_head.image_token_size"]
        names += [("token_embd.weight", "lm.embed_tokens.weight", n_vocab),
                  ("output.weight", "gen_head.vision_head.weight", None)]
    per_layer = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                 "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
                 "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                 "ffn_down": "mlp.down_proj"}
    for i in range(n_layer):
        names += [(f"blk.{i}.{a}.weight", f"lm.layers.{i}.{b}.weight", None) for a, b in per_layer.items()]

    out_tensors = []  # (name, ne, type, source offset, bytes)
    for lname, jname, rows in names:
        if jname not in tensors:
            sys.exit(f"{args[0]}: tensor {jname} missing")
        ne, ty, off = tensors[jname]
        ne = list(ne)
        if rows is not None:
            ne[-1] = rows
        out_tensors.append((lname, ne, ty, data_start + off, nbytes(ne, ty)))

    align = 32
    with open(args[1], "wb") as f:
        w = Writer(f)
        f.write(b"GGUF")
        w.put("I", 3)
        w.put("Q", len(out_tensors))
        meta = [("general.architecture", 8, "llama"), ("general.name", 8, kv.get("general.name", "janus") + "-" + head),
                ("general.alignment", 4, align), ("llama.context_length", 4, 4096),
                ("llama.embedding_length", 4, n_embd), ("llama.block_count", 4, n_layer),
                ("llama.feed_forward_length", 4, kv["janus.lm.n_ff"]), ("llama.attention.head_count", 4, n_head),
                ("llama.attention.head_count_kv", 4, n_kv_head),
                ("llama.attention.layer_norm_rms_epsilon", 6, kv["janus.lm.rms_eps"]),
                ("llama.rope.freq_base", 6, kv["janus.lm.rope_theta"]), ("llama.vocab_size", 4, n_vocab),
                ("tokenizer.ggml.model", 8, "no_vocab")]
        w.put("Q", len(meta))
        for key, ty, v in meta:
            w.kv(key, ty, v)
        off = 0
        for name, ne, ty, _, size in out_tensors:
            w.string(name)
            w.put("I", len(ne))
            for d in ne:
                w.put("Q", d)
            w.put("I", ty)
            w.put("Q", off)
            off = (off + size + align - 1) // align * align
        f.write(b"\0" * ((-f.tell()) % align))
        for name, ne, ty, src_off, size in out_tensors:
            src.seek(src_off)
            left = size
            while left:
                chunk = src.read(min(left, 1 << 24))
                if not chunk:
                    sys.exit(f"{args[0]}: truncated data in {name}")
                f.write(chunk)
                left -= len(chunk)
            f.write(b"\0" * ((-f.tell()) % align))
    print(f"wrote {args[1]}: llama architecture, {len(out_tensors)} tensors, vocab {n_vocab}", file=sys.stderr)


if __name__ == "__main__":
    main()
