// tests/npm/serve_browser.mjs — a headless Chromium (Debian's, driven by playwright-core) uses the
// page `janus serve` serves at "/": generates an image (progress bar, seed), asks about it in the
// chat (streamed answer), saves a screenshot and checks the rendered image element.
// usage: node serve_browser.mjs BASE_URL SCREENSHOT.png [CHROMIUM]
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const [baseURL, shot, exe = "/usr/bin/chromium"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: exe,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
  timeout: 60000,
});
let rc = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  // nothing outside the server may be fetched: the page is self-contained
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(baseURL) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  await page.goto(baseURL + "/", { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("tiny-a"), null, { timeout: 20000 });
  console.log("ok: page loaded, model shown");

  await page.fill("#prompt", "a red fox in the snow");
  await page.fill("#seed", "7");
  await page.click("#generate");
  await page.waitForSelector("img.generated", { timeout: 120000 });
  await page.waitForFunction(() => { const i = document.querySelector("img.generated"); return i && i.complete && i.naturalWidth > 0; });
  const size = await page.$eval("img.generated", (i) => [i.naturalWidth, i.naturalHeight]);
  assert.deepEqual(size, [384, 384]);
  const progress = await page.$eval("#progress", (p) => p.value);
  assert.equal(progress, 576);
  assert.match(await page.textContent("#progress-text"), /seed 7/);
  assert.match(await page.textContent("figcaption"), /seed 7/);
  console.log("ok: generated a 384x384 image, progress 576/576, seed shown");

  await page.click("button.ask-about");
  await page.fill("#chat-input", "What is in this picture?");
  await page.fill("#max-tokens", "8");
  await page.click("#send");
  await page.waitForSelector('.msg.assistant[data-done="1"]', { timeout: 60000 });
  const answer = await page.textContent(".msg.assistant");
  assert.ok(answer.length > 0, "empty answer");
  assert.equal(await page.$$eval(".msg.user img", (l) => l.length), 1, "the question carries the image");
  console.log("ok: asked about the image, got a streamed answer (" + JSON.stringify(answer.slice(0, 40)) + ")");

  await page.screenshot({ path: shot, fullPage: true });
  const png = readFileSync(shot);
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), "screenshot is not a PNG");
  // the image element is rendered: on screen, full size in layout, and in the screenshot's area
  const box = await page.$eval("img.generated", (i) => { const r = i.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; });
  assert.ok(box[2] >= 150 && box[3] >= 150, "image box " + box);
  const w = png.readUInt32BE(16), h = png.readUInt32BE(20);
  assert.ok(box[0] + box[2] <= w && box[1] + box[3] <= h, "image outside the screenshot");
  console.log("ok: screenshot " + shot + " (" + w + "x" + h + "), image element at " + box.map(Math.round).join(","));
  assert.deepEqual(consoleErrors, [], "page errors");
  assert.deepEqual(foreign, [], "requests outside the server");
} catch (e) {
  console.log("FAIL: " + e.message);
  rc = 1;
} finally {
  await browser.close();
}
process.exit(rc);
