// tests/npm/check_gguf.mjs — opens a GGUF file with Hugging Face's @huggingface/gguf parser (an
// independent implementation) and checks what janus convert wrote. Usage:
//   node check_gguf.mjs FILE.gguf EXPECTED_TENSORS EXPECTED_TYPE(bf16|q8_0|...)
// Prints a short summary; exits 1 on any mismatch.
import { gguf, GGMLQuantizationType } from "@huggingface/gguf";
import { statSync } from "node:fs";

const [file, nTensorsStr, type] = process.argv.slice(2);
const fail = (msg) => { console.error("FAIL " + msg); process.exitCode = 1; };

const { metadata, tensorInfos, tensorDataOffset, parameterCount } =
  await gguf(file, { allowLocalFile: true, computeParametersCount: true });

const want = {
  "version": 3,
  "general.architecture": "janus-pro",
  "general.alignment": 32,
  "janus.lm.n_embd": 64,
  "janus.lm.n_layer": 2,
  "janus.vision.width": 64,
  "tokenizer.ggml.model": "gpt2",
  "tokenizer.ggml.bos_token_id": 996,
  "tokenizer.ggml.eos_token_id": 997,
  "janus.token.image_placeholder": 1000,
};
for (const [k, v] of Object.entries(want))
  if (metadata[k] !== v) fail(`${k} = ${JSON.stringify(metadata[k])}, want ${JSON.stringify(v)}`);
const toks = metadata["tokenizer.ggml.tokens"];
if (!Array.isArray(toks) || toks.length !== 1010 || toks[1000] !== "<image_placeholder>")
  fail(`tokenizer.ggml.tokens: ${Array.isArray(toks) ? toks.length : typeof toks} entries`);
const mult = metadata["janus.vq.ch_mult"];
if (!Array.isArray(mult) || mult.join(",") !== "1,1,2,2,4") fail(`janus.vq.ch_mult = ${mult}`);
if (tensorInfos.length !== Number(nTensorsStr)) fail(`${tensorInfos.length} tensors, want ${nTensorsStr}`);

const byName = Object.fromEntries(tensorInfos.map((t) => [t.name, t]));
const wantQ = { f32: GGMLQuantizationType.F32, f16: GGMLQuantizationType.F16, bf16: GGMLQuantizationType.BF16,
                q8_0: GGMLQuantizationType.Q8_0, q4_0: GGMLQuantizationType.Q4_0 }[type];
// the token embedding is never quantized (bf16 in q8_0/q4_0 files)
const wantEmb = type.startsWith("q") ? GGMLQuantizationType.BF16 : wantQ;
const emb = byName["lm.embed_tokens.weight"];
// GGUF stores dims innermost first: [n_embd, n_vocab]
if (!emb || emb.shape.map(Number).join(",") !== "64,1024" || emb.dtype !== wantEmb)
  fail(`lm.embed_tokens.weight: ${emb && emb.shape} dtype ${emb && emb.dtype}, want ${wantEmb}`);
const q = byName["lm.layers.0.self_attn.q_proj.weight"];
if (!q || q.dtype !== wantQ) fail(`q_proj dtype ${q && q.dtype}, want ${wantQ}`);
const norm = byName["lm.norm.weight"];
if (!norm || norm.dtype !== GGMLQuantizationType.F32) fail("lm.norm.weight is not f32");

// offsets: aligned, increasing, inside the file
const size = BigInt(statSync(file).size);
let prev = -1n;
for (const t of tensorInfos) {
  if (t.offset % 32n !== 0n) fail(`${t.name}: offset ${t.offset} not aligned`);
  if (t.offset <= prev) fail(`${t.name}: offsets not increasing`);
  if (tensorDataOffset + t.offset >= size) fail(`${t.name}: data starts past the end of the file`);
  prev = t.offset;
}
console.log(`@huggingface/gguf: ${file}: v${metadata.version}, ${Object.keys(metadata).length} metadata keys, ` +
            `${tensorInfos.length} tensors, ${parameterCount} parameters, data at ${tensorDataOffset}`);
