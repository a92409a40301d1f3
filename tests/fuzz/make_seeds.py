#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py — (re)creates the seed corpora in tests/fuzz/corpus/<target>/.

Seeds are small valid (and a few near-valid) inputs: hand-built GGUF, torch.save-style zip,
pickle, safetensors and index files, plus small files taken from tests/fixtures (the tiny model's
JSON files and data.pkl, its tokenizer.json). Run from anywhere; needs only the Python standard
library. Images come from the small files tests/test_unit_image_io.c writes (pass that directory
with --images DIR, e.g. build/tests/tmp), so the corpus holds real libpng/libjpeg/FFmpeg output.
Regression inputs (files named regress-*) are never touched by this script.
"""
import argparse, io, json, os, pickle, shutil, struct, sys, types, zipfile
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests", "fixtures", "janus-tiny-a", "models")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---------------------------------------------------------------- GGUF
def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs, tensors, align=32):
    """kvs: [(key, type, payload bytes)], tensors: [(name, ggml_type, ne list, data bytes)]"""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, payload in kvs:
        out += gguf_str(k) + struct.pack("<I", t) + payload
    off = 0
    for name, ty, ne, data in tensors:
        out += gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", ty, off)
        off += (len(data) + align - 1) // align * align
    out += b"\0" * ((align - len(out) % align) % align)
    for _, _, _, data in tensors:
        out += data + b"\0" * ((align - len(data) % align) % align)
    return out


def gguf_seeds():
    u32 = lambda v: struct.pack("<I", v)
    f32 = lambda v: struct.pack("<f", v)
    arr = lambda et, items: struct.pack("<IQ", et, len(items)) + b"".join(items)
    kvs = [
        ("general.architecture", 8, gguf_str("janus-pro")),
        ("general.alignment", 4, u32(32)),
        ("janus.llm.n_layer", 4, u32(2)),
        ("janus.llm.rope_theta", 6, f32(10000.0)),
        ("janus.flag", 7, b"\1"),
        ("janus.i64", 11, struct.pack("<q", -5)),
        ("janus.f64", 12, struct.pack("<d", 0.5)),
        ("janus.vq.ch_mult", 9, arr(4, [u32(1), u32(1), u32(2)])),
        ("tokenizer.ggml.tokens", 9, arr(8, [gguf_str("a"), gguf_str("<|end|>"), gguf_str("")])),
        ("janus.image.mean", 9, arr(6, [f32(0.5)] * 3)),
    ]
    f32_data = struct.pack("<8f", *range(8))
    bf16_data = b"".join(struct.pack("<H", 0x3F80) for _ in range(4))
    q8_0 = struct.pack("<e", 0.25) + bytes(range(32))  # one block of 32
    tensors = [("lm.norm.weight", 0, [8], f32_data), ("x.bf16", 30, [2, 2], bf16_data), ("x.q8", 8, [32], q8_0)]
    put("gguf", "small", gguf(kvs, tensors))
    put("gguf", "empty", gguf([], []))
    put("gguf", "meta-only", gguf(kvs[:3], []))


# ---------------------------------------------------------------- torch.save-like pickle and zip
def fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils

    def _rebuild_tensor_v2(*a):
        pass

    def _rebuild_parameter(*a):
        pass

    for fn in (_rebuild_tensor_v2, _rebuild_parameter):
        fn.__module__ = "torch._utils"
        fn.__qualname__ = fn.__name__
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    utils._rebuild_parameter = _rebuild_parameter
    for n in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"):
        cls = type(n, (), {"__module__": "torch"})
        setattr(torch, n, cls)
    sys.modules["torch"] = torch
    sys.modules["torch._utils"] = utils
    return torch


class Storage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride, param=False):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())
        self.param = param

    def __reduce_ex__(self, proto):
        torch = sys.modules["torch"]
        t = (torch._utils._rebuild_tensor_v2, self.args)
        if self.param:
            return (torch._utils._rebuild_parameter, (_Inner(t), False, OrderedDict()))
        return t


class _Inner:
    def __init__(self, t):
        self.t = t

    def __reduce_ex__(self, proto):
        return self.t


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def state_dict_pickle(sd, protocol=2):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(sd)
    return buf.getvalue()


def torch_zip(pkl, storages, prefix="archive", byteorder=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", pkl)
        if byteorder:
            z.writestr(prefix + "/byteorder", "little")
        for key, data in storages:
            z.writestr(prefix + "/data/" + key, data)
        z.writestr(prefix + "/version", "3\n")
    return buf.getvalue()


def pickle_and_zip_seeds():
    torch = fake_torch()
    s0 = Storage(torch.FloatStorage, "0", 6)
    s1 = Storage(torch.BFloat16Storage, "1", 4)
    sd = OrderedDict()
    sd["a.weight"] = Tensor(s0, 0, [2, 3], [3, 1])
    sd["a.bias"] = Tensor(s1, 0, [4], [1])
    sd["a.view"] = Tensor(s0, 1, [2, 2], [1, 3])  # strided view into the same storage
    sd["p"] = Tensor(s1, 2, [2], [1], param=True)
    for proto in (2, 4):
        put("unpickler", "state-dict-p%d.pkl" % proto, state_dict_pickle(sd, proto))
    put("unpickler", "empty-dict.pkl", state_dict_pickle(OrderedDict(), 2))
    sd_long = OrderedDict(n=Tensor(Storage(torch.LongStorage, "9", 1), 0, [], []))
    put("unpickler", "long-storage.pkl", state_dict_pickle(sd_long, 2))
    pkl = state_dict_pickle(sd, 2)
    storages = [("0", struct.pack("<6f", *range(6))), ("1", b"\x80\x3f" * 4)]
    put("zip", "small.bin", torch_zip(pkl, storages))
    put("zip", "no-byteorder.bin", torch_zip(pkl, storages, prefix="pytorch_model", byteorder=False))
    # the real thing: the tiny fixture's data.pkl (57 KB) for the unpickler
    with zipfile.ZipFile(os.path.join(FIX, "tiny-a", "pytorch_model.bin")) as z:
        put("unpickler", "fixture-tiny-a-data.pkl", z.read("pytorch_model/data.pkl"))


# ---------------------------------------------------------------- safetensors and indexes
def safetensors(tensors, meta=True):
    hdr, data = OrderedDict(), b""
    if meta:
        hdr["__metadata__"] = {"format": "pt"}
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    t = [("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)), ("b", "BF16", [2], b"\x80\x3f\x00\x40"),
         ("h", "F16", [1], b"\x00\x3c"), ("e", "F32", [0], b"")]
    put("safetensors", "small.safetensors", safetensors(t))
    put("safetensors", "no-meta.safetensors", safetensors(t[:1], meta=False))
    put("safetensors", "i64.safetensors", safetensors([("n", "I64", [1], b"\0" * 8)]))
    # shard indexes refer to the shards the harness creates (a.safetensors, b.safetensors; see fuzz_shard_index.c)
    put("shard_index", "two-shards.json", json.dumps(
        {"metadata": {"total_size": 20}, "weight_map": {"w": "a.safetensors", "b": "a.safetensors", "v": "b.safetensors"}}, indent=2))
    put("shard_index", "missing-shard.json", json.dumps({"weight_map": {"w": "c.safetensors"}}))
    with open(os.path.join(FIX, "tiny-a-sharded", "pytorch_model.bin.index.json"), "rb") as f:
        idx = json.load(f)
    small = {"metadata": idx["metadata"], "weight_map": dict(list(idx["weight_map"].items())[:20])}
    put("shard_index", "fixture-tiny-a-sharded-head.json", json.dumps(small, indent=2))


def json_seeds():
    d = os.path.join(FIX, "tiny-a")
    for n in ("config.json", "preprocessor_config.json", "processor_config.json", "special_tokens_map.json",
              "tokenizer_config.json"):
        with open(os.path.join(d, n), "rb") as f:
            data = f.read()
        if n == "config.json":
            put("config", "fixture-tiny-a-config.json", data)
        put("json", "fixture-tiny-a-" + n, data)
    put("json", "escapes.json", '{"a": "\\u00e9\\ud83d\\ude00\\n\\t\\"", "b": [1, -2.5e-3, true, false, null], "c": {}}')
    with open(os.path.join(d, "tokenizer.json"), "rb") as f:
        put("tokenizer_load", "fixture-tiny-a-tokenizer.json", f.read())
    for name in os.listdir(os.path.join(ROOT, "tests", "fixtures", "tokenizers")):
        p = os.path.join(ROOT, "tests", "fixtures", "tokenizers", name, "tokenizer_config.json")
        if os.path.exists(p) and os.path.getsize(p) < 20000:
            with open(p, "rb") as f:
                put("json", "tokenizer_config-" + name + ".json", f.read())


def text_seeds():
    put("tokenizer_encode", "ascii.txt", "Hello, world! What is in this image?\n")
    put("tokenizer_encode", "chat.txt", "<|User|>: <image_placeholder>\nDescribe it.\n\n<|Assistant|>:")
    put("tokenizer_encode", "unicode.txt", "naïve café — 日本語 テキスト 😀 \u200b\u0301 123456 \t\r\n")
    put("tokenizer_encode", "ids-le32.bin", struct.pack("<8i", 1, 2, 100, 255, 0, 3, -1, 1 << 30))
    put("tokens", "grid.txt", " ".join(str(i) for i in range(576)) + "\n")
    put("tokens", "json.txt", "[1, 2, 3,\n 4]\n")
    put("tokens", "neg.txt", "-1 -2147483647 2147483647\n")


def image_seeds(images_dir):
    if not images_dir:
        return
    picks = {"png": [], "jpeg": [], "image_ffmpeg": []}
    for n in sorted(os.listdir(images_dir)):
        p = os.path.join(images_dir, n)
        if not os.path.isfile(p) or os.path.getsize(p) == 0 or os.path.getsize(p) > 4096:
            continue
        if n.endswith(".png") and ("13x7" in n or "1x1" in n or "bomb" in n or "short" in n):
            picks["png"].append(n)
        elif n.endswith(".jpg"):
            picks["jpeg"].append(n)
        elif n.endswith(".bmp"):
            picks["image_ffmpeg"].append(n)
    for target, names in picks.items():
        for n in names:
            with open(os.path.join(images_dir, n), "rb") as f:
                put(target, n.replace("imgio_", ""), f.read())
    # a hand-made 2x2 24-bit BMP, so the FFmpeg target has a seed even without the image test's files
    px = b"\x00\x00\xff\x00\xff\x00\x00\x00" + b"\xff\x00\x00\xff\xff\xff\x00\x00"
    hdr = b"BM" + struct.pack("<IHHI", 54 + len(px), 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, len(px), 2835, 2835, 0, 0)
    put("image_ffmpeg", "hand-2x2.bmp", hdr + px)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", help="directory with the small images tests/test_unit_image_io.c writes")
    a = ap.parse_args()
    gguf_seeds()
    pickle_and_zip_seeds()
    safetensors_seeds()
    json_seeds()
    text_seeds()
    image_seeds(a.images)


if __name__ == "__main__":
    main()
