// A model's answer streams into the widget as the model writes it: the
// in-process edge passes the regional service's deltas on the moment they
// arrive. The model is kefu-fake-openai (the one allowed double for a remote
// model) writing one word every 60 ms, so the answer takes seconds to write
// and the widget must show it growing long before the model is done.
// Once through the in-process edge and once through the Spin component
// under `wasmtime serve`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { readFileSync } from "node:fs";
import { startSystem, launch, widget, transcript, ROOT, EDGES } from "./harness.mjs";

const REPLY = "To factory-reset the lamp, hold the power button and the brightness button together " +
  "for 10 seconds, until the light blinks three times [1]. The lamp then starts again with its factory settings [1].";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** kefu-fake-openai as a process; resolves to {url, stop}. */
function fakeModel(args) {
  const bin = path.join(ROOT, "target/debug/kefu-fake-openai");
  const child = spawn(bin, ["--addr", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.on("error", (e) => reject(new Error(`${bin}: ${e.message} (scripts/test-browser.sh builds it)`)));
    child.stdout.once("data", (d) => resolve({ url: String(d).trim(), stop: () => child.kill("SIGTERM") }));
  });
}

for (const edge of EDGES) test(`a model's answer grows in the widget while the model is still writing [${edge} edge]`, async () => {
  const model = await fakeModel(["--token-ms", "60", "--reply", REPLY]);
  const sys = await startSystem({ wasmEdge: edge === "wasm", env: { KEFU_LLM_URL: model.url, KEFU_LLM_MODEL: "fake" } });
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    // Count the pieces the chat response body arrives in: a buffered answer
    // is read in one or two, a streamed one in many, before its `done`.
    await page.addInitScript(() => {
      window.__reads = [];
      const read = ReadableStreamDefaultReader.prototype.read;
      const dec = new TextDecoder();
      ReadableStreamDefaultReader.prototype.read = function () {
        return read.call(this).then((r) => {
          if (r.value) window.__reads.push(dec.decode(r.value, { stream: true }));
          return r;
        });
      };
    });
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await page.evaluate(() => {
      const root = document.querySelector("[data-kefu]").shadowRoot;
      window.__snaps = [];
      new MutationObserver(() => {
        const m = root.querySelector(".msg.bot");
        if (m) window.__snaps.push({ t: performance.now(), text: m.querySelector(".body").textContent, done: m.hasAttribute("data-seq") });
      }).observe(root.querySelector(".log"), { childList: true, subtree: true, characterData: true, attributes: true });
    });
    await w.ask("How do I reset the smart lamp to factory settings?");
    const a = await w.answer(1);
    assert.equal(await a.getAttribute("data-source"), "llm");
    const final = await a.locator(".body").textContent();
    assert.ok(final.includes("blinks three times"), final);
    const snaps = await page.evaluate(() => window.__snaps);
    const growing = snaps.filter((s) => !s.done && s.text);
    const distinct = [...new Set(growing.map((s) => s.text))];
    assert.ok(distinct.length >= 5, `text updates before done: ${JSON.stringify(distinct)}`);
    const reads = await page.evaluate(() => window.__reads);
    const doneAt = reads.findIndex((r) => r.includes("event: done"));
    const early = reads.slice(0, doneAt).filter((r) => r.includes("event: delta"));
    assert.ok(doneAt > 0 && early.length >= 5,
      `deltas arrived in ${early.length} separate reads before done (${reads.length} reads)`);
    for (const s of distinct) assert.ok(final.startsWith(s.replace(/\s+$/, "")) || REPLY.startsWith(s), `${s} is not a prefix of ${final}`);
    // Stored once, as shown.
    const t = await transcript(sys);
    const bots = t.messages.filter((m) => m.role === "bot");
    assert.equal(bots.length, 1);
    assert.equal(bots[0].text, REPLY);
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
    await sys.stop();
    model.stop();
  }
});

test("the XSS corpus as model output, streamed: rendered as text, nothing executes or fetches [in-process edge]", async () => {
  const payloads = readFileSync(path.join(ROOT, "fixtures/xss/payloads.txt"), "utf8").split("\n").filter((l) => l.trim());
  assert.ok(payloads.length >= 200);
  const model = await fakeModel(["--reply", payloads.join("\n")]);
  const sys = await startSystem({ env: { KEFU_LLM_URL: model.url, KEFU_LLM_MODEL: "fake" } });
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const fetched = [];
    page.on("request", (r) => { if (r.url().includes("xss.invalid")) fetched.push(r.url()); });
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await page.evaluate(() => {
      const root = document.querySelector("[data-kefu]").shadowRoot;
      window.__longest = 0;
      new MutationObserver(() => {
        const m = root.querySelector(".msg.bot .body");
        if (m) window.__longest = Math.max(window.__longest, m.textContent.length);
      }).observe(root.querySelector(".log"), { childList: true, subtree: true, characterData: true });
    });
    await w.ask("How do I reset the smart lamp to factory settings?");
    const a = await w.answer(1);
    // The model's text (the corpus) was on screen while it streamed; it is
    // not grounded in the passages, so the stored answer is the extractive one.
    assert.ok(await page.evaluate(() => window.__longest) > 2000, "the streamed corpus was rendered");
    assert.equal(await a.getAttribute("data-source"), "kb");
    await page.waitForTimeout(500);
    assert.deepEqual(await page.evaluate(() => window.__xssHits), [], "payloads executed");
    assert.deepEqual(fetched, [], "payload markup fetched");
    const markup = await page.evaluate(() => document.querySelector("[data-kefu]").shadowRoot
      .querySelectorAll("script, img, svg, iframe, object, embed, style, link, video, audio, math, form *:not(textarea):not(button)").length);
    assert.equal(markup, 0, "markup from the model reached the DOM");
  } finally {
    await ctx.close();
    await sys.stop();
    model.stop();
  }
});
