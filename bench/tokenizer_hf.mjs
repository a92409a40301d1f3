// bench/tokenizer_hf.mjs — the same measurements as bench_tokenizer.c, with Hugging Face's Rust
// `tokenizers` library through its official npm binding (installed under bench/npm by
// bench_tokenizer.sh). Run with RAYON_NUM_THREADS=1 so encodeBatch stays single-threaded.
//
// usage: node tokenizer_hf.mjs TOKENIZER_JSON CORPUS_JSONL [BIG_MB] [REPS]
// Prints "hf <mode> bytes=… seconds=… MB/s=… tokens=…" for: corpus-lines (one awaited encode per
// line: includes the binding's per-call cost), corpus-batch (one encodeBatch over all lines, REPS
// times: the Rust library's own speed) and big-text (one encode of ~BIG_MB megabytes).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), 'npm', 'package.json'));
const { Tokenizer } = require('tokenizers');

const [tokPath, corpusPath, bigArg, repsArg] = process.argv.slice(2);
const bigMB = Number(bigArg ?? 10);
const reps = Number(repsArg ?? 5);
const t0load = performance.now();
const tok = Tokenizer.fromFile(tokPath);
console.error(`hf loaded ${tokPath} in ${(performance.now() - t0load).toFixed(0)} ms`);
const lines = readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l).text);
const utf8 = (s) => Buffer.byteLength(s, 'utf8');
const opts = { addSpecialTokens: false };
const report = (mode, bytes, sec, tokens) =>
  console.log(`hf ${mode} bytes=${bytes} seconds=${sec.toFixed(4)} MB/s=${(bytes / sec / 1e6).toFixed(2)} tokens=${tokens}`);

// warm-up
await tok.encode(lines[0] ?? '', null, opts);

let bytes = 0, tokens = 0, t0 = performance.now();
for (let r = 0; r < reps; r++)
  for (const l of lines) {
    const e = await tok.encode(l, null, opts);
    bytes += utf8(l);
    tokens += e.getIds().length;
  }
report('corpus-lines', bytes, (performance.now() - t0) / 1e3, tokens);

bytes = 0; tokens = 0; t0 = performance.now();
for (let r = 0; r < reps; r++) {
  const encs = await tok.encodeBatch(lines, opts);
  for (const e of encs) tokens += e.getIds().length;
  for (const l of lines) bytes += utf8(l);
}
report('corpus-batch', bytes, (performance.now() - t0) / 1e3, tokens);

const parts = [];
let size = 0;
while (size < bigMB * 1e6)
  for (const l of lines) { parts.push(l, '\n'); size += utf8(l) + 1; }
const big = parts.join('');
t0 = performance.now();
const e = await tok.encode(big, null, opts);
report('big-text', utf8(big), (performance.now() - t0) / 1e3, e.getIds().length);
