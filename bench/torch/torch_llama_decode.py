#!/usr/bin/python3
# Copied unchanged from the project's shared reference baselines (shared/bench/), so the
# benchmarks run from a plain clone.
"""PyTorch CPU baseline: one CFG image-generation decode step of the
Janus-Pro LLM (LLaMA, HF semantics) with random weights.

Per step: gen-embed lookup + aligner (8 -> 2048 -> 2048), 24 (or 30)
decoder layers (RMSNorm, q/k/v/o, RoPE rotate_half, causal attention over
the KV cache, SwiGLU MLP), final norm, gen head (2048 -> 2048 GELU -> 16384),
CFG logit mix and multinomial sampling.  Batch = 2 rows per image.

KV cache modes:
  cat    : HF-style, torch.cat of the new k/v onto the past every step
           (what transformers' LlamaModel does with past_key_values)
  static : preallocated cache written in place (best case for PyTorch)

usage: /usr/bin/python3 torch_llama_decode.py --batch 2 --dtype fp32 --past 300
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

SHAPES = {
    "1b": dict(hidden=2048, layers=24, heads=16, ff=5632),
    "7b": dict(hidden=4096, layers=30, heads=32, ff=11008),
}


def rms_norm(x, w, eps=1e-6):
    # HF LlamaRMSNorm: compute in fp32, cast back, multiply by weight
    dt = x.dtype
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(dt)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Model:
    def __init__(self, shape, dtype, batch, max_pos, mode):
        s = SHAPES[shape]
        self.H, self.L, self.NH, self.FF = s["hidden"], s["layers"], s["heads"], s["ff"]
        self.hd = self.H // self.NH
        self.dtype, self.mode = dtype, mode
        g = torch.Generator().manual_seed(0)

        def w(*shape):
            return (torch.randn(*shape, generator=g) * 0.02).to(dtype)

        H, FF = self.H, self.FF
        self.layers = []
        for _ in range(self.L):
            self.layers.append(dict(
                ln1=torch.ones(H, dtype=dtype), ln2=torch.ones(H, dtype=dtype),
                q=w(H, H), k=w(H, H), v=w(H, H), o=w(H, H),
                gate=w(FF, H), up=w(FF, H), down=w(H, FF)))
        self.norm = torch.ones(H, dtype=dtype)
        # image-generation side modules of Janus (gen_embed, gen_aligner, gen_head)
        self.gen_embed = w(16384, 8)
        self.al1, self.al1b = w(H, 8), torch.zeros(H, dtype=dtype)
        self.al2, self.al2b = w(H, H), torch.zeros(H, dtype=dtype)
        self.gh1, self.gh1b = w(H, H), torch.zeros(H, dtype=dtype)
        self.gh2, self.gh2b = w(16384, H), torch.zeros(16384, dtype=dtype)
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        t = torch.arange(max_pos).float()
        fr = torch.outer(t, inv)
        emb = torch.cat((fr, fr), dim=-1)
        self.cos, self.sin = emb.cos().to(dtype), emb.sin().to(dtype)
        self.B = batch
        self.kv = None

    def init_cache(self, past, max_pos):
        B, NH, hd = self.B, self.NH, self.hd
        g = torch.Generator().manual_seed(1)
        self.pos = past
        if self.mode == "static":
            self.kv = [(torch.zeros(B, NH, max_pos, hd, dtype=self.dtype),
                        torch.zeros(B, NH, max_pos, hd, dtype=self.dtype)) for _ in range(self.L)]
            for k, v in self.kv:
                k[:, :, :past].normal_(generator=g)
                v[:, :, :past].normal_(generator=g)
        else:
            self.kv = [(torch.randn(B, NH, past, hd, generator=g).to(self.dtype),
                        torch.randn(B, NH, past, hd, generator=g).to(self.dtype))
                       for _ in range(self.L)]

    def layer(self, i, x):
        p = self.layers[i]
        B, NH, hd, pos = self.B, self.NH, self.hd, self.pos
        h = rms_norm(x, p["ln1"])
        q = F.linear(h, p["q"]).view(B, 1, NH, hd).transpose(1, 2)
        k = F.linear(h, p["k"]).view(B, 1, NH, hd).transpose(1, 2)
        v = F.linear(h, p["v"]).view(B, 1, NH, hd).transpose(1, 2)
        cos, sin = self.cos[pos:pos + 1], self.sin[pos:pos + 1]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.mode == "static":
            kc, vc = self.kv[i]
            kc[:, :, pos:pos + 1] = k
            vc[:, :, pos:pos + 1] = v
            K, V = kc[:, :, :pos + 1], vc[:, :, :pos + 1]
        else:
            kc, vc = self.kv[i]
            K = torch.cat([kc, k], dim=2)
            V = torch.cat([vc, v], dim=2)
            self.kv[i] = (K, V)
        # HF eager attention: matmul, softmax in fp32, matmul
        att = torch.matmul(q, K.transpose(2, 3)) / math.sqrt(hd)
        att = F.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(att, V).transpose(1, 2).reshape(B, 1, self.H)
        x = x + F.linear(o, p["o"])
        h = rms_norm(x, p["ln2"])
        x = x + F.linear(F.silu(F.linear(h, p["gate"])) * F.linear(h, p["up"]), p["down"])
        return x

    @torch.no_grad()
    def step(self, tokens, cfg=5.0):
        e = self.gen_embed[tokens]                       # [B, 8]
        x = F.linear(F.gelu(F.linear(e, self.al1, self.al1b)), self.al2, self.al2b)
        x = x.view(self.B, 1, self.H)
        for i in range(self.L):
            x = self.layer(i, x)
        x = rms_norm(x, self.norm)[:, -1]
        logits = F.linear(F.gelu(F.linear(x, self.gh1, self.gh1b)), self.gh2, self.gh2b)
        lc, lu = logits[0::2].float(), logits[1::2].float()
        probs = torch.softmax(lu + cfg * (lc - lu), dim=-1)
        nxt = torch.multinomial(probs, 1).view(-1)
        self.pos += 1
        return torch.stack([nxt, nxt], 1).view(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="1b", choices=SHAPES)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--past", type=int, default=300)
    ap.add_argument("--mode", default="static", choices=["static", "cat"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dt = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    max_pos = a.past + 2 + a.steps * (a.reps + 1)
    m = Model(a.shape, dt, a.batch, max_pos + 8, a.mode)
    times = []
    for r in range(a.reps + 1):  # rep 0 = warm-up
        m.init_cache(a.past, max_pos + 8)
        tok = torch.zeros(a.batch, dtype=torch.long)
        t0 = time.perf_counter()
        for _ in range(a.steps):
            tok = m.step(tok)
        dtm = (time.perf_counter() - t0) / a.steps
        if r > 0:
            times.append(dtm)
    mn, md = min(times), statistics.median(times)
    imgs = a.batch // 2
    print(f"torch {torch.__version__} threads={a.threads} shape={a.shape} dtype={a.dtype} "
          f"batch={a.batch} past={a.past} mode={a.mode}: step min {mn*1e3:.1f} ms "
          f"median {md*1e3:.1f} ms -> 576 steps {576*mn:.1f} s (median {576*md:.1f} s) "
          f"for {imgs} image(s); all reps {[round(t*1e3,1) for t in times]}")


if __name__ == "__main__":
    main()
