#!/usr/bin/python3
"""bench/make_random_checkpoint.py — writes a full-size, random-weight Janus-Pro-1B (or -7B) download
for benchmarking (no internet needed, no real weights).

Usage: /usr/bin/python3 bench/make_random_checkpoint.py OUT_DIR [--size 1b|7b] [--seed N] [--safetensors]

--size 7b: the 7B language model (hidden 4096, 30 layers, 32 heads, intermediate 11008; janus-spec.md
§1.2) with the same vision, VQ and head modules sized to it: 936 tensors, 14,840,868,118 bytes as the
official 7B download (§1.1).

--safetensors writes model.safetensors instead of pytorch_model.bin with plain Python (no torch,
no numpy): each tensor is a window of a 1M-value random pool (same distributions), which costs
the engine exactly what independent random values cost. Used by bench/bench_all.sh.

What it writes (layout of deepseek-ai/Janus-Pro-1B, janus-spec.md §1.1-1.3):
  config.json               the real 1B values (§1.2): hidden 2048, 24 layers, 16 heads, I 5632,
                            V 102400, siglip_large_patch16_384, VQ-16 16384x8, mlp_gelu depth 2
  preprocessor_config.json  the real file's values (§1.2)
  processor_config.json     the real file's values (§1.2)
  special_tokens_map.json   the real file's values (§1.2)
  tokenizer_config.json     the real file's values (§1.2)
  tokenizer.json            NOT the real Janus-Pro file (not available offline): the reconstructed
                            DeepSeek-LLM tokenizer from tests/fixtures/tokenizers/deepseek_llm_7b_base_recon
                            (100000 BPE tokens + BOS/EOS at 100000/100001 + 13 byte tokens) plus the
                            Janus-Pro special tokens added here so every token the converter resolves
                            by string exists: <｜▁pad▁｜> 100015, <|User|> ..., and <image_placeholder>
                            at 100581 as in the real model, the ids between filled with [PADn] tokens (the
                            converter fills holes with "[PAD<id>]"). Ids other than BOS/EOS and the
                            image placeholder differ from the real tokenizer; the real file has
                            the same structure, so conversion work is the same.
  pytorch_model.bin         all 882 official tensors with their official names and shapes, random
                            bf16 (N(0, 0.02²); norm weights around 1), saved with torch.save
                            (PyTorch zip). Total tensor bytes must equal the spec's 4,178,595,094.
"""
import argparse, collections, gzip, json, os, random, struct, sys

H, L, NH, I, V = 2048, 24, 16, 5632, 102400  # 1B; set_size("7b") rebinds them
# per size: LM shape, and the key count and tensor bytes of the official download (janus-spec.md §1.1, §1.3)
SIZES = {"1b": dict(H=2048, L=24, NH=16, I=5632, keys=882, nbytes=4178595094),
         "7b": dict(H=4096, L=30, NH=32, I=11008, keys=936, nbytes=14840868118)}
W, VL, F, P, IMG = 1024, 24, 4096, 16, 384
CB, CD, CH, Z, MULT, NRES = 16384, 8, 128, 256, [1, 1, 2, 2, 4], 2

CONFIG = {
    "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                       "params": {"depth": 2, "input_dim": W, "n_embed": H, "projector_type": "mlp_gelu"}},
    "architectures": ["MultiModalityCausalLM"],
    "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
                           "params": {"depth": 2, "input_dim": CD, "n_embed": H, "projector_type": "mlp_gelu"}},
    "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
                        "params": {"image_token_embed": H, "image_token_size": CB, "n_embed": H}},
    "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision",
                          "params": {"image_token_size": CB, "n_embed": CD}},
    "language_config": {"hidden_size": H, "intermediate_size": I, "max_position_embeddings": 16384,
                        "model_type": "llama", "num_attention_heads": NH, "num_hidden_layers": L,
                        "num_key_value_heads": NH, "torch_dtype": "bfloat16", "vocab_size": V},
    "model_type": "multi_modality",
    "torch_dtype": "bfloat16",
    "transformers_version": "4.33.1",
    "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
                      "params": {"image_size": IMG, "model_name": "siglip_large_patch16_384",
                                 "select_feature": "same", "select_layer": -1}},
}
PREPROCESSOR = {"background_color": [127, 127, 127], "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                "image_processor_type": "VLMImageProcessor", "image_size": IMG, "image_std": [0.5, 0.5, 0.5],
                "min_size": 14, "processor_class": "VLChatProcessor", "rescale_factor": 0.00392156862745098}
PROCESSOR = {"add_special_token": False, "ignore_id": -100, "image_tag": "<image_placeholder>", "mask_prompt": True,
             "num_image_tokens": 576, "processor_class": "VLChatProcessor", "sft_format": "deepseek"}
BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
EXTRA = ["<image_placeholder>", "<patch_placeholder>", "<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>",
         "<|grounding|>", "<|User|>", "<|Assistant|>"]
SPECIAL_MAP = {"additional_special_tokens": EXTRA, "bos_token": BOS, "eos_token": EOS, "pad_token": PAD}
TOK_CONFIG = {"bos_token": BOS, "clean_up_tokenization_spaces": False, "eos_token": EOS,
              "model_max_length": 16384, "pad_token": None, "tokenizer_class": "LlamaTokenizer",
              "unk_token": None, "use_default_system_prompt": True}


def set_size(name):
    """Rebinds the LM shape globals and the config's LM-sized fields to the given model size."""
    global H, L, NH, I
    z = SIZES[name]
    H, L, NH, I = z["H"], z["L"], z["NH"], z["I"]
    CONFIG["aligner_config"]["params"]["n_embed"] = H
    CONFIG["gen_aligner_config"]["params"]["n_embed"] = H
    CONFIG["gen_head_config"]["params"].update(image_token_embed=H, n_embed=H)
    CONFIG["language_config"].update(hidden_size=H, intermediate_size=I, num_attention_heads=NH,
                                     num_hidden_layers=L, num_key_value_heads=NH)
    return z


def tensors():
    """(name, shape) for every tensor of the official Janus-Pro-1B state dict (§1.3, §5)."""
    t = []
    vt = "vision_model.vision_tower"
    t += [(f"{vt}.pos_embed", [1, (IMG // P) ** 2, W]), (f"{vt}.patch_embed.proj.weight", [W, 3, P, P]),
          (f"{vt}.patch_embed.proj.bias", [W])]
    for i in range(VL):
        b = f"{vt}.blocks.{i}"
        t += [(f"{b}.norm1.weight", [W]), (f"{b}.norm1.bias", [W]), (f"{b}.attn.qkv.weight", [3 * W, W]),
              (f"{b}.attn.qkv.bias", [3 * W]), (f"{b}.attn.proj.weight", [W, W]), (f"{b}.attn.proj.bias", [W]),
              (f"{b}.norm2.weight", [W]), (f"{b}.norm2.bias", [W]), (f"{b}.mlp.fc1.weight", [F, W]),
              (f"{b}.mlp.fc1.bias", [F]), (f"{b}.mlp.fc2.weight", [W, F]), (f"{b}.mlp.fc2.bias", [W])]
    t += [(f"{vt}.norm.weight", [W]), (f"{vt}.norm.bias", [W])]
    a = f"{vt}.attn_pool"
    t += [(f"{a}.latent", [1, 1, W]), (f"{a}.q.weight", [W, W]), (f"{a}.q.bias", [W]), (f"{a}.kv.weight", [2 * W, W]),
          (f"{a}.kv.bias", [2 * W]), (f"{a}.proj.weight", [W, W]), (f"{a}.proj.bias", [W]), (f"{a}.norm.weight", [W]),
          (f"{a}.norm.bias", [W]), (f"{a}.mlp.fc1.weight", [F, W]), (f"{a}.mlp.fc1.bias", [F]),
          (f"{a}.mlp.fc2.weight", [W, F]), (f"{a}.mlp.fc2.bias", [W])]
    t += [("aligner.layers.0.weight", [H, W]), ("aligner.layers.0.bias", [H]),
          ("aligner.layers.2.weight", [H, H]), ("aligner.layers.2.bias", [H])]

    def res(p, cin, cout):
        r = [(f"{p}.norm1.weight", [cin]), (f"{p}.norm1.bias", [cin]), (f"{p}.conv1.weight", [cout, cin, 3, 3]),
             (f"{p}.conv1.bias", [cout]), (f"{p}.norm2.weight", [cout]), (f"{p}.norm2.bias", [cout]),
             (f"{p}.conv2.weight", [cout, cout, 3, 3]), (f"{p}.conv2.bias", [cout])]
        if cin != cout:
            r += [(f"{p}.nin_shortcut.weight", [cout, cin, 1, 1]), (f"{p}.nin_shortcut.bias", [cout])]
        return r

    def attn(p, c):
        r = [(f"{p}.norm.weight", [c]), (f"{p}.norm.bias", [c])]
        for q in ("q", "k", "v", "proj_out"):
            r += [(f"{p}.{q}.weight", [c, c, 1, 1]), (f"{p}.{q}.bias", [c])]
        return r

    g = "gen_vision_model"
    t += [(f"{g}.encoder.conv_in.weight", [CH, 3, 3, 3]), (f"{g}.encoder.conv_in.bias", [CH])]
    inm = [1] + MULT
    for i in range(len(MULT)):
        bi, bo = CH * inm[i], CH * MULT[i]
        for j in range(NRES):
            t += res(f"{g}.encoder.conv_blocks.{i}.res.{j}", bi, bo)
            bi = bo
        if i == len(MULT) - 1:
            for j in range(NRES):
                t += attn(f"{g}.encoder.conv_blocks.{i}.attn.{j}", bi)
        else:
            t += [(f"{g}.encoder.conv_blocks.{i}.downsample.conv.weight", [bi, bi, 3, 3]),
                  (f"{g}.encoder.conv_blocks.{i}.downsample.conv.bias", [bi])]
    t += res(f"{g}.encoder.mid.0", bi, bi) + attn(f"{g}.encoder.mid.1", bi) + res(f"{g}.encoder.mid.2", bi, bi)
    t += [(f"{g}.encoder.norm_out.weight", [bi]), (f"{g}.encoder.norm_out.bias", [bi]),
          (f"{g}.encoder.conv_out.weight", [Z, bi, 3, 3]), (f"{g}.encoder.conv_out.bias", [Z])]
    t += [(f"{g}.quant_conv.weight", [CD, Z, 1, 1]), (f"{g}.quant_conv.bias", [CD]),
          (f"{g}.quantize.embedding.weight", [CB, CD]), (f"{g}.quantize.codebook_used", [65536]),
          (f"{g}.post_quant_conv.weight", [Z, CD, 1, 1]), (f"{g}.post_quant_conv.bias", [Z])]
    bi = CH * MULT[-1]
    t += [(f"{g}.decoder.conv_in.weight", [bi, Z, 3, 3]), (f"{g}.decoder.conv_in.bias", [bi])]
    t += res(f"{g}.decoder.mid.0", bi, bi) + attn(f"{g}.decoder.mid.1", bi) + res(f"{g}.decoder.mid.2", bi, bi)
    for i in range(len(MULT)):
        bo = CH * MULT[len(MULT) - 1 - i]
        for j in range(NRES + 1):
            t += res(f"{g}.decoder.conv_blocks.{i}.res.{j}", bi, bo)
            bi = bo
        if i == 0:
            for j in range(NRES + 1):
                t += attn(f"{g}.decoder.conv_blocks.{i}.attn.{j}", bi)
        if i != len(MULT) - 1:
            t += [(f"{g}.decoder.conv_blocks.{i}.upsample.conv.weight", [bi, bi, 3, 3]),
                  (f"{g}.decoder.conv_blocks.{i}.upsample.conv.bias", [bi])]
    t += [(f"{g}.decoder.norm_out.weight", [bi]), (f"{g}.decoder.norm_out.bias", [bi]),
          (f"{g}.decoder.conv_out.weight", [3, bi, 3, 3]), (f"{g}.decoder.conv_out.bias", [3])]
    t += [("gen_aligner.layers.0.weight", [H, CD]), ("gen_aligner.layers.0.bias", [H]),
          ("gen_aligner.layers.2.weight", [H, H]), ("gen_aligner.layers.2.bias", [H]),
          ("gen_head.output_mlp_projector.weight", [H, H]), ("gen_head.output_mlp_projector.bias", [H]),
          ("gen_head.vision_head.weight", [CB, H]), ("gen_head.vision_head.bias", [CB]),
          ("gen_embed.weight", [CB, CD])]
    m = "language_model.model"
    t += [(f"{m}.embed_tokens.weight", [V, H])]
    for i in range(L):
        b = f"{m}.layers.{i}"
        t += [(f"{b}.self_attn.{x}_proj.weight", [H, H]) for x in "qkvo"]
        t += [(f"{b}.mlp.gate_proj.weight", [I, H]), (f"{b}.mlp.up_proj.weight", [I, H]),
              (f"{b}.mlp.down_proj.weight", [H, I]), (f"{b}.input_layernorm.weight", [H]),
              (f"{b}.post_attention_layernorm.weight", [H])]
    t += [(f"{m}.norm.weight", [H]), ("language_model.lm_head.weight", [V, H])]
    return t


def tokenizer_json(repo_root):
    src = os.path.join(repo_root, "tests/fixtures/tokenizers/deepseek_llm_7b_base_recon/tokenizer.json.gz")
    with gzip.open(src, "rt", encoding="utf-8") as f:
        tok = json.load(f)
    ids = {PAD: 100015, "<begin_of_image>": 100016, "<end_of_image>": 100017}
    for k, s in enumerate(EXTRA[1:]):
        ids[s] = 100018 + k
    ids["<image_placeholder>"] = 100581  # as in the real Janus-Pro tokenizer
    # HF tokenizers (and janus.c, which follows it) ignore the serialized "id" of an added token and
    # number added tokens consecutively after the vocabulary: a hole would move <image_placeholder>
    # down to 100026. Filler tokens keep every id where the file says it is.
    for i in range(100018 + len(EXTRA) - 1, 100581):
        ids[f"[PAD{i}]"] = i
    for s, i in sorted(ids.items(), key=lambda x: x[1]):
        tok["added_tokens"].append({"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                                    "normalized": False, "special": True})
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", choices=sorted(SIZES), default="1b")
    ap.add_argument("--safetensors", action="store_true", help="write model.safetensors without torch")
    a = ap.parse_args()
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(a.out_dir, exist_ok=True)
    size = set_size(a.size)
    t = tensors()
    nbytes = sum(2 * numel(s) for _, s in t)
    assert len(t) == size["keys"], len(t)
    assert nbytes == size["nbytes"], nbytes  # janus-spec.md §1.1
    print(f"{len(t)} tensors, {nbytes} bytes", file=sys.stderr)
    if a.safetensors:
        write_safetensors(os.path.join(a.out_dir, "model.safetensors"), t, a.seed)
    else:
        write_torch(os.path.join(a.out_dir, "pytorch_model.bin"), t, a.seed)
    files = {"config.json": CONFIG, "preprocessor_config.json": PREPROCESSOR, "processor_config.json": PROCESSOR,
             "special_tokens_map.json": SPECIAL_MAP, "tokenizer_config.json": TOK_CONFIG,
             "tokenizer.json": tokenizer_json(repo_root)}
    for fn, obj in files.items():
        with open(os.path.join(a.out_dir, fn), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
    print(a.out_dir)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def is_norm_weight(name, shape):
    return len(shape) == 1 and ("norm" in name) and name.endswith("weight")


def write_torch(path, t, seed):
    import torch
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    for name, shape in t:
        x = torch.randn(shape, generator=g, dtype=torch.float32)
        if is_norm_weight(name, shape):
            x = 1.0 + 0.1 * x
        else:
            x = 0.02 * x
        sd[name] = x.to(torch.bfloat16)
    torch.save(sd, path)


def write_safetensors(path, t, seed):
    """bf16 safetensors; tensor i is the pool read cyclically from a per-tensor random offset"""
    rng = random.Random(seed)
    pool_n = 1 << 20

    def pool(mean, std):
        f = struct.pack("<%df" % pool_n, *(rng.gauss(mean, std) for _ in range(pool_n)))
        b = bytearray(2 * pool_n)
        b[0::2], b[1::2] = f[2::4], f[3::4]  # bf16 = the high half of the f32 (truncation)
        return bytes(b) * 2  # doubled so any window of pool_n values is one slice

    weights, norms = pool(0.0, 0.02), pool(1.0, 0.1)
    header, off = {}, 0
    for name, shape in t:
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + 2 * numel(shape)]}
        off += 2 * numel(shape)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for name, shape in t:
            src = norms if is_norm_weight(name, shape) else weights
            left, start = numel(shape), rng.randrange(pool_n)
            while left:
                k = min(left, pool_n)
                f.write(src[2 * start:2 * (start + k)])
                left -= k
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
