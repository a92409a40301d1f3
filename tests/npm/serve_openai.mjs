// tests/npm/serve_openai.mjs — the official `openai` npm client against `janus serve`: model
// listing, chat with an image (plain and streamed) and image generation with a seed, each equal to
// what the CLI gives for the same inputs (files made by tests/test_cli_serve_npm.sh).
// usage: node serve_openai.mjs BASE_URL API_KEY IMAGE.png ASK_ANSWER.txt CLI_IMG0.png CLI_IMG1.png
import OpenAI from "openai";
import { readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";
import assert from "node:assert/strict";

const [baseURL, apiKey, imagePath, askPath, png0, png1] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey, maxRetries: 0, timeout: 120000 });
const expected = readFileSync(askPath, "utf8");
const imageUrl = "data:image/png;base64," + readFileSync(imagePath).toString("base64");
let failures = 0;
// The decompressed IDAT stream of a PNG: equal for equal pixels from the same writer (the
// metadata chunks of the server's and the CLI's files differ).
function pngPixels(buf) {
  const parts = [];
  for (let pos = 8; pos + 8 <= buf.length;) {
    const n = buf.readUInt32BE(pos);
    if (buf.toString("latin1", pos + 4, pos + 8) === "IDAT") parts.push(buf.subarray(pos + 8, pos + 8 + n));
    pos += 12 + n;
  }
  return inflateSync(Buffer.concat(parts));
}
async function step(name, fn) {
  try { await fn(); console.log("ok: " + name); } catch (e) { failures++; console.log("FAIL: " + name + ": " + e.message); }
}

await step("models.list", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ["tiny-a"]);
});

const messages = [{ role: "user", content: [{ type: "image_url", image_url: { url: imageUrl } }, { type: "text", text: "What is this?" }] }];
await step("chat.completions.create with an image equals janus ask", async () => {
  const r = await client.chat.completions.create({ model: "tiny-a", messages, max_tokens: 12 });
  assert.equal(r.choices[0].message.content, expected);
  assert.equal(r.usage.completion_tokens, 12);
});

await step("streamed chat with an image equals janus ask", async () => {
  const stream = await client.chat.completions.create({ model: "tiny-a", messages, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta.content || "";
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(text, expected);
  assert.equal(finish, "length");
  assert.equal(usage && usage.completion_tokens, 12);
});

await step("images.generate with seed equals janus generate -s 7 -n 2", async () => {
  const r = await client.images.generate({ model: "tiny-a", prompt: "a red fox", n: 2, size: "384x384", response_format: "b64_json", seed: 7 });
  assert.equal(r.data.length, 2);
  assert.ok(pngPixels(Buffer.from(r.data[0].b64_json, "base64")).equals(pngPixels(readFileSync(png0))), "image 0 differs");
  assert.ok(pngPixels(Buffer.from(r.data[1].b64_json, "base64")).equals(pngPixels(readFileSync(png1))), "image 1 differs");
});

await step("a bad size is a 400 the client reports", async () => {
  await assert.rejects(client.images.generate({ prompt: "x", size: "1024x1024" }), (e) => e.status === 400 && /384x384/.test(e.message));
});

await step("a wrong key is a 401", async () => {
  const bad = new OpenAI({ baseURL: baseURL + "/v1", apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
});

process.exit(failures ? 1 : 0);
