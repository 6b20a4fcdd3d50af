// Human handoff in real Chromium: a visitor in the widget (one browser
// context) and agents in the console at /console (their own contexts),
// against a live kefu-regional, through the in-process and the wasm edge.
// Then the XSS corpus rendered in the console.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startSystem, launch, widget, transcript, conversationOf, EDGES, ROOT } from "./harness.mjs";

const PASSWORD = "correct horse battery";
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function createAgent(sys, id, name, extra = {}) {
  const r = await fetch(`${sys.api}/v1/agents`, { method: "POST", headers: sys.tenantHeaders,
    body: JSON.stringify({ id, name, password: PASSWORD, ...extra }) });
  assert.equal(r.status, 201, await r.text());
}

/** A signed-in console in its own browser context. */
async function signIn(sys, id, errors) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on("pageerror", (e) => errors.push(`${id}: ${e}`));
  await page.goto(`${sys.api}/console`);
  await page.fill("#tenant", sys.id);
  await page.fill("#agent", id);
  await page.fill("#password", PASSWORD);
  await page.click("#login button[type=submit]");
  await page.locator("#app").waitFor();
  return { ctx, page };
}

const consoleMsgs = (page) => page.locator("#transcript .msg");

for (const edge of EDGES) {
  const wasmEdge = edge === "wasm";
  test(`a visitor asks for a human, agents accept, talk, transfer and hand back; nothing lost [${edge} edge]`, async () => {
    const sys = await startSystem({ wasmEdge });
    const errors = [];
    const contexts = [];
    try {
      await createAgent(sys, "alice", "Alice");
      await createAgent(sys, "bob", "Bob");
      const vctx = await browser.newContext();
      contexts.push(vctx);
      const page = await vctx.newPage();
      page.on("pageerror", (e) => errors.push(`visitor: ${e}`));
      await page.goto(sys.page);
      const w = widget(page);
      await w.open();
      await w.ask("How long does a refund take?");
      await w.answer(1);
      // The visitor asks for a person with the widget's button.
      await w.human.click();
      await w.statusMatches(/Connecting you to a human/);
      await w.q(".msg").filter({ hasText: "number 1 in the queue" }).waitFor({ timeout: 10000 });
      const conv = await conversationOf(page, sys.widgetKey);

      // Alice and Bob sign in; the conversation waits in their queue.
      const alice = await signIn(sys, "alice", errors);
      const bob = await signIn(sys, "bob", errors);
      contexts.push(alice.ctx, bob.ctx);
      const row = alice.page.locator(`#waiting li[data-conversation="${conv}"]`);
      await row.waitFor({ timeout: 10000 });
      await row.click();
      await alice.page.locator("#summary").filter({ hasText: "How long does a refund take?" }).waitFor();
      assert.match(await alice.page.locator("#reasons").textContent(), /explicit_request/);
      await alice.page.click("#accept");
      await alice.page.locator(`#mine li[data-conversation="${conv}"]`).waitFor();
      // The visitor is told an agent joined.
      await w.q(".msg.system").filter({ hasText: "Alice (agent) has joined" }).waitFor({ timeout: 10000 });
      // It left Bob's queue.
      await bob.page.locator(`#waiting li[data-conversation="${conv}"]`).waitFor({ state: "detached", timeout: 10000 });

      // Visitor -> agent, live over the console's event stream.
      await w.ask("My order number is A-1001, the refund has not arrived.");
      await consoleMsgs(alice.page).filter({ hasText: "A-1001" }).waitFor({ timeout: 10000 });
      await w.ask("Any news?");
      await consoleMsgs(alice.page).filter({ hasText: "Any news?" }).waitFor({ timeout: 10000 });
      // Each visitor message got the stored "a person will reply" notice;
      // the agent reads it once.
      await alice.page.waitForFunction(() => document.querySelectorAll("#transcript .msg.system").length >= 2 &&
        [...document.querySelectorAll("#transcript .msg.system")].filter((m) => /has this conversation/.test(m.textContent)).length >= 2);
      const notices = await alice.page.evaluate(() => [...document.querySelectorAll("#transcript .msg.system")]
        .filter((m) => /has this conversation/.test(m.textContent) && !m.hidden).length);
      assert.equal(notices, 1, "the repeated notice shows once in the console");
      // Agent -> visitor, timed from the click to the widget showing it.
      const lat = [];
      for (let i = 0; i < 5; i++) {
        const text = `Let me check A-1001 for you (${i}).`;
        await alice.page.fill("#reply", text);
        const t0 = Date.now();
        await alice.page.click("#send");
        await w.q(".msg.agent").filter({ hasText: `for you (${i})` }).waitFor({ timeout: 10000 });
        lat.push(Date.now() - t0);
      }
      lat.sort((a, b) => a - b);
      console.log(`console agent message -> widget [${edge} edge]: p50 ${lat[2]} ms, max ${lat[4]} ms (n=5)`);
      await w.statusMatches(/agent has joined/);

      // Alice transfers to Bob; Bob sees it as his and hands back to the AI.
      await alice.page.selectOption("#transfer-to", "agent:bob");
      await alice.page.click("#transfer");
      await w.q(".msg.system").filter({ hasText: "transferred to Bob" }).waitFor({ timeout: 10000 });
      const mine = bob.page.locator(`#mine li[data-conversation="${conv}"]`);
      await mine.waitFor({ timeout: 10000 });
      await mine.click();
      await consoleMsgs(bob.page).filter({ hasText: "A-1001" }).first().waitFor();
      await bob.page.click("#handback");
      await w.q(".msg.system").filter({ hasText: "The agent has left" }).waitFor({ timeout: 10000 });
      await w.statusMatches(/agent has left/);

      // The AI answers the next question again, from the knowledge base.
      await w.ask("Do you ship to Australia?");
      const botAnswers = w.q(".msg.bot");
      await page.waitForFunction(() => [...document.querySelector("[data-kefu]").shadowRoot.querySelectorAll(".msg.bot[data-seq]")]
        .some((m) => /Australia/.test(m.textContent)), null, { timeout: 30000 });
      assert.ok((await botAnswers.count()) >= 2);

      // The stored transcript against what each side saw: every message once.
      const t = await transcript(sys);
      assert.equal(t.conversation.state, "ai");
      const seqs = t.messages.map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
      const visitor = t.messages.filter((m) => m.role === "visitor").map((m) => m.text);
      assert.deepEqual(visitor, ["How long does a refund take?", "I'd like to talk to a human",
        "My order number is A-1001, the refund has not arrived.", "Any news?", "Do you ship to Australia?"]);
      const agentTexts = t.messages.filter((m) => m.role === "agent").map((m) => m.text);
      assert.deepEqual(agentTexts, Array.from({ length: 5 }, (_, i) => `Let me check A-1001 for you (${i}).`));
      await page.waitForFunction((n) => document.querySelector("[data-kefu]").shadowRoot.querySelectorAll(".msg[data-seq]").length >= n,
        t.messages.length, { timeout: 10000 }).catch(() => {});
      const shown = await page.evaluate(() => [...document.querySelector("[data-kefu]").shadowRoot.querySelectorAll(".msg[data-seq]")]
        .map((m) => Number(m.getAttribute("data-seq"))));
      assert.deepEqual(shown, seqs, "the widget shows every stored message once, in order");
      const inConsole = await bob.page.evaluate(() => [...document.querySelectorAll("#transcript .msg")].map((m) => Number(m.dataset.seq)));
      assert.deepEqual(inConsole, [...new Set(inConsole)], "the console shows no message twice");
      assert.deepEqual(errors, [], "uncaught errors");
    } finally {
      for (const c of contexts) await c.close().catch(() => {});
      await sys.stop();
    }
  });
}

test("the XSS corpus from visitors, agent names and canned replies renders as text in the console", async () => {
  const sys = await startSystem({ wasmEdge: false, kb: false });
  const errors = [];
  const contexts = [];
  try {
    const payloads = readFileSync(path.join(ROOT, "fixtures/xss/payloads.txt"), "utf8").split("\n").filter((l) => l.trim());
    assert.ok(payloads.length >= 200);
    await createAgent(sys, "eve", payloads[1].slice(0, 100).replace(/[\u0000-\u001f]/g, " "));
    for (const [i, p] of payloads.slice(0, 50).entries()) {
      const r = await fetch(`${sys.api}/v1/canned-replies`, { method: "POST", headers: sys.tenantHeaders,
        body: JSON.stringify({ id: `x${i}`, title: p.slice(0, 200), text: p }) });
      assert.equal(r.status, 200, await r.text());
    }
    // A queued conversation whose visitor wrote every payload.
    const c = await (await fetch(`${sys.api}/v1/conversations`, { method: "POST", headers: sys.tenantHeaders, body: "{}" })).json();
    for (const p of payloads) {
      const r = await fetch(`${sys.api}/v1/conversations/${c.id}/messages`, { method: "POST", headers: sys.tenantHeaders,
        body: JSON.stringify({ role: "visitor", text: p }) });
      assert.equal(r.status, 201, await r.text());
    }
    const s = await fetch(`${sys.api}/v1/conversations/${c.id}/state`, { method: "PUT", headers: sys.tenantHeaders,
      body: JSON.stringify({ state: "queued_for_human" }) });
    assert.equal(s.status, 200);

    const ctx = await browser.newContext();
    contexts.push(ctx);
    // Record any execution: the hooks are installed before the page's own
    // script (init scripts are not subject to the page's CSP).
    await ctx.addInitScript(() => {
      window.__xssHits = [];
      window.__xss = (n) => window.__xssHits.push(n);
      for (const f of ["alert", "confirm", "prompt", "print"]) window[f] = (n) => window.__xssHits.push(`${f}:${n}`);
    });
    const page = await ctx.newPage();
    page.on("pageerror", (e) => errors.push(String(e)));
    const fetched = [];
    page.on("request", (r) => { if (r.url().includes("xss.invalid")) fetched.push(r.url()); });
    await page.goto(`${sys.api}/console`);
    await page.fill("#tenant", sys.id);
    await page.fill("#agent", "eve");
    await page.fill("#password", PASSWORD);
    await page.click("#login button[type=submit]");
    await page.locator(`#waiting li[data-conversation="${c.id}"]`).click();
    await page.click("#accept");
    await page.locator("#composer").waitFor();
    await page.waitForFunction((n) => document.querySelectorAll("#transcript .msg.visitor").length >= n, payloads.length, { timeout: 30000 });
    await page.fill("#canned-q", "");
    await page.locator("#canned-q").pressSequentially("<");
    await page.locator("#canned-list button").first().waitFor();
    await page.locator("#canned-list button").first().click();
    await page.waitForTimeout(500);
    assert.deepEqual(await page.evaluate(() => window.__xssHits), [], "payloads executed");
    assert.deepEqual(fetched, [], "payload markup fetched");
    const shown = await page.evaluate(() => [...document.querySelectorAll("#transcript .msg.visitor")].map((m) => m.lastChild.textContent));
    for (const p of payloads) assert.ok(shown.includes(p), `not shown as text: ${p}`);
    const markup = await page.evaluate(() => document.querySelectorAll("#transcript *:not(.msg):not(.who), #summary *, #whoami *, #canned-list *:not(button)").length);
    assert.equal(markup, 0, "markup from data reached the DOM");
    assert.match(await page.locator("#whoami").textContent(), /</, "the agent's name is shown as text");
    assert.deepEqual(errors, []);
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    await sys.stop();
  }
});

for (const edge of EDGES) {
  test(`nobody takes the conversation in time: the widget's form leaves a contact and a message that agents see [${edge} edge]`, async () => {
    const sys = await startSystem({ wasmEdge: edge === "wasm", kb: false });
    const errors = [];
    const contexts = [];
    try {
      await createAgent(sys, "alice", "Alice");
      const s = await fetch(`${sys.api}/v1/handoff/settings`, { method: "PUT", headers: sys.tenantHeaders,
        body: JSON.stringify({ queue_timeout_secs: 1 }) });
      assert.equal(s.status, 200, await s.text());
      const vctx = await browser.newContext();
      contexts.push(vctx);
      const page = await vctx.newPage();
      page.on("pageerror", (e) => errors.push(`visitor: ${e}`));
      await page.goto(sys.page);
      const w = widget(page);
      await w.open();
      await w.human.click();
      await w.q(".msg").filter({ hasText: "number 1 in the queue" }).waitFor({ timeout: 10000 });
      // Nobody accepts within a second: the widget shows the form.
      const form = w.q("form.leave");
      await form.waitFor({ timeout: 15000 });
      const visitorMsgs = () => w.q(".msg.visitor").count();
      const before = await visitorMsgs();
      // A contact that is neither a phone number nor an e-mail is refused in place.
      await form.locator("input").fill("call me maybe");
      await form.locator("textarea").fill("My parcel never arrived.");
      await form.locator("button").click();
      await form.locator(".ferr").filter({ hasText: "valid phone number or e-mail" }).waitFor();
      assert.equal(await visitorMsgs(), before, "nothing was sent");
      await form.locator("input").fill("+44 20 7946 0958");
      await form.locator("button").click();
      await form.waitFor({ state: "detached" });
      await w.q(".msg").filter({ hasText: "your message is recorded; an agent" }).waitFor({ timeout: 10000 });
      const conv = await conversationOf(page, sys.widgetKey);

      // The stored conversation: the message, and the contact as its own field.
      const t = await transcript(sys);
      assert.equal(t.contact, "+44 20 7946 0958");
      assert.ok(t.messages.some((m) => m.role === "visitor" && m.text.startsWith("My parcel never arrived.")));
      assert.deepEqual(t.routing.map((e) => e.action), ["handoff", "queue_timeout", "left_message"]);

      // The agent finds it under "Left messages", with the contact and the history.
      const alice = await signIn(sys, "alice", errors);
      contexts.push(alice.ctx);
      const row = alice.page.locator(`#left li[data-conversation="${conv}"]`);
      await row.waitFor({ timeout: 10000 });
      await row.click();
      await alice.page.locator("#contact").filter({ hasText: "Contact: +44 20 7946 0958" }).waitFor();
      const history = await alice.page.locator("#routing li").allTextContents();
      assert.match(history.join("\n"), /handoff .*why: explicit_request/);
      assert.match(history.join("\n"), /queue_timeout/);
      await consoleMsgs(alice.page).filter({ hasText: "My parcel never arrived." }).waitFor();

      // Reloading the page does not ask again: the form was answered.
      await page.reload();
      await w.open();
      await w.q(".msg").filter({ hasText: "your message is recorded" }).waitFor({ timeout: 10000 });
      assert.equal(await w.q("form.leave").count(), 0);
      assert.deepEqual(errors, [], "uncaught errors");
    } finally {
      for (const c of contexts) await c.close().catch(() => {});
      await sys.stop();
    }
  });
}
