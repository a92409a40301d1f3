// tests/npm/serve_load.mjs — a bounded load test of `janus serve` on loopback: C concurrent
// clients mix chat requests (an image + a question) and image generations for D seconds, while
// /health is polled and the server's RSS is sampled. Stops by itself: no request starts after the
// deadline, and each has a timeout. Plain fetch, no client library.
// usage: node serve_load.mjs --url URL [--key KEY] --pid PID --image IMG.png|none [--clients 16]
//        [--seconds 30] [--mix both|chat|images] [--images-every 2] [--max-tokens 16]
//        [--rss-growth-mb 64] [--timeout-s 300] [--json OUT.json]
// Exit 1 on any failed request, a /health miss (non-200 or slower than 2 s), or RSS growth past
// the bound (measured from the sample after the warm-up, i.e. the first 2 requests per client).
import { readFileSync, writeFileSync } from "node:fs";

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (v.startsWith("--") ? a.concat([[v.slice(2), all[i + 1]]]) : a), []));
const url = args.url, key = args.key || "", pid = args.pid;
const clients = +(args.clients || 16), seconds = +(args.seconds || 30), imagesEvery = +(args["images-every"] || 2);
const mix = args.mix || "both";
const maxTokens = +(args["max-tokens"] || 16), rssBoundMb = +(args["rss-growth-mb"] || 64);
const timeoutMs = 1000 * +(args["timeout-s"] || 300); // per request
// --image none: text-only questions
const image = args.image === "none" ? null : "data:image/png;base64," + readFileSync(args.image).toString("base64");
const headers = { "Content-Type": "application/json", ...(key ? { Authorization: "Bearer " + key } : {}) };

const t0 = Date.now(), deadline = t0 + seconds * 1000;
const stats = { chat: [], images: [], failures: [], health: { n: 0, misses: 0, max_ms: 0 } };
const rssKb = () => { try { return +/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]; } catch { return 0; } };
let done = 0, rssBase = 0, rssPeak = 0;

async function one(kind, i) {
  const body = kind === "chat"
    ? { messages: [{ role: "user", content: [...(image ? [{ type: "image_url", image_url: { url: image } }] : []), { type: "text", text: "Describe image " + i }] }], max_tokens: maxTokens }
    : { prompt: "load test image " + i, n: 1, seed: i, size: "384x384" };
  const start = Date.now();
  try {
    const r = await fetch(url + (kind === "chat" ? "/v1/chat/completions" : "/v1/images/generations"),
                          { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    const j = await r.json();
    const ok = r.status === 200 && (kind === "chat" ? typeof j.choices[0].message.content === "string" : j.data.length === 1 && j.data[0].b64_json.length > 1000);
    if (!ok) throw new Error("HTTP " + r.status + " " + JSON.stringify(j).slice(0, 200));
    stats[kind].push(Date.now() - start);
  } catch (e) {
    stats.failures.push(kind + ": " + e.message);
  }
  if (++done === 2 * clients) rssBase = rssKb();
}

async function client(c) {
  for (let k = 0; Date.now() < deadline; k++)
    await one(mix !== "both" ? mix : (c + k) % imagesEvery === 0 ? "images" : "chat", c * 100000 + k);
}

async function healthLoop() {
  while (Date.now() < deadline) {
    const s = Date.now();
    try {
      const r = await fetch(url + "/health", { signal: AbortSignal.timeout(2000) });
      await r.text();
      if (r.status !== 200) stats.health.misses++;
    } catch { stats.health.misses++; }
    stats.health.n++;
    stats.health.max_ms = Math.max(stats.health.max_ms, Date.now() - s);
    const rss = rssKb();
    if (rssBase) rssPeak = Math.max(rssPeak, rss);
    await new Promise((res) => setTimeout(res, 250));
  }
}

await Promise.all([healthLoop(), ...Array.from({ length: clients }, (_, c) => client(c))]);
const elapsed = (Date.now() - t0) / 1000;
const q = (a, p) => (a.length ? [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : 0);
const rssEnd = rssKb();
if (!rssBase) rssBase = rssEnd;
rssPeak = Math.max(rssPeak, rssEnd);
const summary = {
  clients, seconds: elapsed,
  chat: { n: stats.chat.length, per_min: +(stats.chat.length / elapsed * 60).toFixed(1), p50_ms: q(stats.chat, 0.5), p95_ms: q(stats.chat, 0.95) },
  images: { n: stats.images.length, per_min: +(stats.images.length / elapsed * 60).toFixed(1), p50_ms: q(stats.images, 0.5), p95_ms: q(stats.images, 0.95) },
  failures: stats.failures.length, health: stats.health,
  rss_mb: { after_warmup: +(rssBase / 1024).toFixed(1), peak: +(rssPeak / 1024).toFixed(1), end: +(rssEnd / 1024).toFixed(1), bound_growth: rssBoundMb },
};
console.log(JSON.stringify(summary));
if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 1) + "\n");
for (const f of stats.failures.slice(0, 5)) console.log("failure: " + f);
let bad = 0;
if (stats.failures.length) { console.log("FAIL: " + stats.failures.length + " requests failed"); bad = 1; }
if (stats.health.misses) { console.log("FAIL: /health missed " + stats.health.misses + " of " + stats.health.n + " polls"); bad = 1; }
if ((rssPeak - rssBase) / 1024 > rssBoundMb) { console.log("FAIL: RSS grew " + ((rssPeak - rssBase) / 1024).toFixed(1) + " MB past the warm-up (bound " + rssBoundMb + " MB)"); bad = 1; }
if ((mix !== "images" && !stats.chat.length) || (mix !== "chat" && !stats.images.length)) { console.log("FAIL: a kind of request never completed"); bad = 1; }
if (!bad) console.log("ok: " + clients + " clients, " + (stats.chat.length + stats.images.length) + " requests, 0 failures, /health max " + stats.health.max_ms + " ms, RSS +" + ((rssPeak - rssBase) / 1024).toFixed(1) + " MB");
process.exit(bad);
