// The chat widget in headless Chromium against a live kefu-regional with the
// in-process edge (and once through the wasm edge under wasmtime serve).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startSystem, launch, widget, ROOT } from "./harness.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function withSystem(opts, fn) {
  const sys = await startSystem(opts);
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    page.on("pageerror", (e) => { throw e; });
    await fn(sys, page, ctx);
  } finally {
    await ctx.close();
    await sys.stop();
  }
}

async function transcript(sys) {
  const list = await (await fetch(`${sys.api}/v1/conversations`, { headers: sys.tenantHeaders })).json();
  assert.equal(list.conversations.length, 1, "one conversation");
  const id = list.conversations[0].id;
  return (await fetch(`${sys.api}/v1/conversations/${id}`, { headers: sys.tenantHeaders })).json();
}

async function chatInBothLanguages(sys, page) {
  await page.goto(sys.page + "/?lang=zh");
  const w = widget(page);
  await w.open();
  await w.ask("我忘记密码了怎么办");
  const zh = await w.answer(1);
  assert.match(await zh.locator(".body").textContent(), /忘记密码.*短信验证码/);
  assert.match(await zh.locator(".cites").textContent(), /忘记密码怎么办/);
  await w.ask("do you ship to Australia?");
  const en = await w.answer(2);
  assert.match(await en.locator(".body").textContent(), /Australia/);
  assert.match(await en.locator(".cites").textContent(), /ship internationally/);
}

test("a Chinese and an English question get the right answers with citations", async () => {
  await withSystem({}, chatInBothLanguages);
});

test("the same, through the wasm edge under wasmtime serve", async () => {
  await withSystem({ wasmEdge: true }, chatInBothLanguages);
});

test("a reload shows the conversation so far", async () => {
  await withSystem({}, async (sys, page) => {
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await w.ask("how do I track my order");
    await w.answer(1);
    await page.reload();
    await widget(page).open();
    const texts = await widget(page).messages.allTextContents();
    assert.ok(texts.some((t) => t.includes("how do I track my order")), texts.join(" | "));
    assert.ok(texts.some((t) => t.includes("tracking number")), texts.join(" | "));
    assert.equal(texts.filter((t) => t.includes("how do I track my order")).length, 1, "no duplicates");
  });
});

test("a message sent offline is delivered exactly once when the network returns", async () => {
  await withSystem({}, async (sys, page, ctx) => {
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await w.ask("hello, do you accept Visa?");
    await w.answer(1);
    await ctx.setOffline(true);
    await w.ask("can I pay with Alipay?");
    await page.waitForFunction(() => document.querySelector("[data-kefu]").shadowRoot.querySelector(".status:not([hidden])"));
    await ctx.setOffline(false);
    await w.answer(2);
    const t = await transcript(sys);
    const sent = t.messages.filter((m) => m.role === "visitor" && m.text === "can I pay with Alipay?");
    assert.equal(sent.length, 1, JSON.stringify(t.messages));
    assert.equal(t.messages.filter((m) => m.role === "visitor").length, 2);
  });
});

test("a rate-limited visitor sees a friendly please-wait with the time", async () => {
  await withSystem({}, async (sys, page) => {
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await w.ask("hi");
    await w.answer(1);
    // Use up this visitor's per-minute messages from the page itself.
    await page.evaluate(async ([edge, key]) => {
      const s = JSON.parse(localStorage.getItem("kefu:" + key));
      for (let i = 0; i < 25; i++) {
        await fetch(`${edge}/v1/chat?widget_key=${key}`, { method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ widget_key: key, visitor_id: s.visitor, conversation_id: s.conv, message: "spam " + i, client_msg_id: "spam-" + i }) });
      }
    }, [sys.edge, sys.widgetKey]);
    await w.ask("one more question");
    await page.waitForFunction(() => /wait \d+ s/.test(document.querySelector("[data-kefu]").shadowRoot.querySelector(".status").textContent));
    const status = await w.status.textContent();
    assert.match(status, /please wait \d+ s/);
  });
});

test("a page with hostile CSS still shows a usable widget", async () => {
  await withSystem({}, async (sys, page) => {
    await page.goto(sys.page + "/?hostile=1");
    const w = widget(page);
    await w.launcher.waitFor({ state: "visible" });
    const box = await w.launcher.boundingBox();
    assert.ok(box && box.width >= 40 && box.width <= 80, JSON.stringify(box));
    await w.open();
    await w.ask("退款多久能到账");
    const a = await w.answer(1);
    assert.match(await a.locator(".body").textContent(), /3-5 个工作日/);
    const font = await w.input.evaluate((e) => getComputedStyle(e).fontSize);
    assert.notEqual(font, "64px", "host CSS reached into the widget");
  });
});

test("the XSS corpus renders as text: no payload executes", async () => {
  const payloads = readFileSync(path.join(ROOT, "fixtures/xss/payloads.txt"), "utf8").split("\n").filter((l) => l.trim());
  assert.ok(payloads.length >= 40);
  await withSystem({}, async (sys, page) => {
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await w.ask(payloads[0]);
    await w.answer(1);
    // The rest arrive as agent messages (through the long poll), the way an
    // agent or a model's text would.
    const conv = await page.evaluate((k) => JSON.parse(localStorage.getItem("kefu:" + k)).conv, sys.widgetKey);
    for (const p of payloads) {
      const r = await fetch(`${sys.api}/v1/conversations/${conv}/messages`, { method: "POST", headers: sys.tenantHeaders,
        body: JSON.stringify({ role: "agent", text: p, source: "agent" }) });
      assert.equal(r.status, 201, await r.text());
    }
    await page.waitForFunction((n) => document.querySelector("[data-kefu]").shadowRoot.querySelectorAll(".msg.agent").length >= n, payloads.length, { timeout: 30000 });
    await page.waitForTimeout(500);
    const hits = await page.evaluate(() => window.__xssHits);
    assert.deepEqual(hits, [], "payloads executed");
    const shown = await page.evaluate(() => [...document.querySelector("[data-kefu]").shadowRoot.querySelectorAll(".msg.agent .body")].map((b) => b.textContent));
    // Shown as the literal text (payloads using the Markdown subset are
    // checked by the no-execution and no-markup assertions instead).
    for (const p of payloads.filter((p) => !p.includes("**") && !p.includes("](") && !p.startsWith("- "))) {
      assert.ok(shown.includes(p), `not shown as text: ${p}`);
    }
    const scripts = await page.evaluate(() => document.querySelector("[data-kefu]").shadowRoot.querySelectorAll("script, img, svg, iframe").length);
    assert.equal(scripts, 0, "markup from messages reached the DOM");
  });
});

test("asking for a human shows the queued state, and an agent's reply arrives live", async () => {
  await withSystem({}, async (sys, page) => {
    await page.goto(sys.page);
    const w = widget(page);
    await w.open();
    await w.ask("how do I track my order");
    await w.answer(1);
    await w.human.click();
    await page.waitForFunction(() => /human agent/.test(document.querySelector("[data-kefu]").shadowRoot.querySelector(".status").textContent));
    assert.ok(await w.human.isDisabled(), "no second request while queued");
    const t = await transcript(sys);
    assert.equal(t.conversation.state, "queued_for_human");
    // An agent answers through the tenant API; the open widget shows it.
    const r = await fetch(`${sys.api}/v1/conversations/${t.conversation.id}/messages`, { method: "POST", headers: sys.tenantHeaders,
      body: JSON.stringify({ role: "agent", text: "Hi, this is Lin from support.", source: "agent" }) });
    assert.equal(r.status, 201);
    await page.locator("[data-kefu] >> .msg.agent").filter({ hasText: "this is Lin" }).waitFor({ timeout: 5000 });
    assert.match(await w.status.textContent(), /agent has joined/);
  });
});
