#!/usr/bin/python3
# Copied unchanged from the project's shared reference baselines (shared/bench/), so the
# benchmarks run from a plain clone.
"""PyTorch CPU baseline: SigLIP-L/16 @ 384 vision encoder forward (1 image)
with random weights, plus Janus' understanding aligner (1024->2048 GELU
2048->2048).  Shapes follow timm's VisionTransformer as configured by
Janus' "siglip_large_patch16_384": width 1024, 24 blocks, 16 heads,
MLP 4096, patch 16, no class token, 576 tokens, pre-LN blocks with
qkv bias, final LayerNorm (attention-pool head ignored).

usage: /usr/bin/python3 torch_siglip.py [--dtype fp32|bf16] [--reps 3]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d=1024, heads=16, mlp=4096):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, x):
        B, N, C = x.shape
        h = self.norm1(x)
        qkv = self.qkv(h).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        att = att.softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, N, C)
        x = x + self.proj(o)
        x = x + self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x


class SigLIP(nn.Module):
    def __init__(self, d=1024, depth=24, heads=16, mlp=4096, img=384, patch=16):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, d, patch, patch)
        self.pos = nn.Parameter(torch.randn(1, (img // patch) ** 2, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.al1 = nn.Linear(d, 2048)
        self.al2 = nn.Linear(2048, 2048)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos
        x = self.norm(self.blocks(x))
        return self.al2(F.gelu(self.al1(x)))


def flops(d=1024, depth=24, mlp=4096, n=576, patch=16):
    blk = 2 * n * d * 3 * d + 2 * n * d * d + 2 * 2 * n * d * mlp + 2 * 2 * n * n * d
    return depth * blk + 2 * n * 3 * patch * patch * d + 2 * n * (d * 2048 + 2048 * 2048)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dt = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    m = SigLIP().eval().to(dt)
    x = torch.randn(1, 3, 384, 384).to(dt)
    times = []
    with torch.no_grad():
        for r in range(a.reps + 1):
            t0 = time.perf_counter()
            y = m(x)
            if r > 0:
                times.append(time.perf_counter() - t0)
    fl = flops()
    print(f"siglip-L/16@384 + aligner, torch {torch.__version__} threads={a.threads} dtype={a.dtype}: "
          f"out {tuple(y.shape)}, {fl/1e9:.1f} GFLOP; min {min(times):.3f} s, median "
          f"{statistics.median(times):.3f} s ({fl/min(times)/1e9:.1f} GFLOP/s); all {[round(t,3) for t in times]}")


if __name__ == "__main__":
    main()
