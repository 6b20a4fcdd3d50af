// Test harness for kefu in real Chromium: starts kefu-regional (and, on
// request, the wasm edge under `wasmtime serve`) on free loopback ports with a
// temp data dir, creates tenants whose allowed origin is the test page's,
// loads the shop knowledge base when the KB routes exist, serves test pages,
// and stops only the processes it started.
//
// Reusable pieces (the console tests build on them):
//   startRegional({wasmEdge})         -> sys {api, edge, page, op, dir, stop(), addCleanup(fn)}
//   createTenant(sys, {id, origins})   -> {id, apiKey, widgetKey, tenantHeaders}
//   loadShopKb(sys, tenant)            -> {loaded, reason?, report?}
//   servePage(sys, render)             -> serves render(url) (HTML or {html, headers}) at sys.page
//   startSystem(opts)                  -> all of the above with the shop page (the widget tests)
//   launch(), widget(page), transcript(sys), agentSays(sys, conv, text, role)
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const OPERATOR = "operator-token-for-browser-tests-0123";
const EDGE_KEY = "edge-key-for-browser-tests-0123456789";
const MASTER = "8f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5";

/** The edges a scenario runs through: `KEFU_BROWSER_EDGES=in-process,wasm` (default both). */
export const EDGES = (process.env.KEFU_BROWSER_EDGES || "in-process,wasm").split(",").map((s) => s.trim()).filter(Boolean);

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on("error", reject);
  });
}

async function waitFor(url, what, child, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited early (code ${child.exitCode})`);
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready at ${url} after ${ms} ms`);
}

/**
 * kefu-regional on free ports with a temp data dir, its public edge either
 * in-process or the Spin component under `wasmtime serve`. `env` adds to the
 * regional's environment. `stop()` ends exactly the processes started here.
 */
export async function startRegional({ wasmEdge = false, env = {} } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kefu-browser-"));
  const [apiPort, edgePort, pagePort] = [await freePort(), await freePort(), await freePort()];
  const sys = {
    api: `http://127.0.0.1:${apiPort}`,
    edge: `http://127.0.0.1:${edgePort}`,
    page: `http://127.0.0.1:${pagePort}`,
    pagePort,
    dir,
    wasmEdge,
    op: { authorization: `Bearer ${OPERATOR}`, "content-type": "application/json" },
  };
  const children = [];
  const cleanups = [];
  sys.addCleanup = (fn) => cleanups.push(fn);
  sys.stop = async () => {
    for (const fn of cleanups.splice(0).reverse()) { try { await fn(); } catch { /* best effort */ } }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    await Promise.all(children.map((c) => c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once("exit", r))));
    rmSync(dir, { recursive: true, force: true });
  };
  const bin = path.join(ROOT, "target/debug/kefu-regional");
  try {
    if (!existsSync(bin)) throw new Error(`${bin} missing: scripts/test-browser.sh builds it`);
    const regional = spawn(bin, ["serve"], {
      env: { ...process.env, KEFU_DATA_DIR: path.join(dir, "data"), KEFU_LISTEN: `127.0.0.1:${apiPort}`,
        KEFU_PUBLIC_LISTEN: wasmEdge ? "off" : `127.0.0.1:${edgePort}`, KEFU_OPERATOR_TOKEN: OPERATOR,
        KEFU_MASTER_KEY: MASTER, KEFU_EDGE_KEY: EDGE_KEY, KEFU_LOG: "warn", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(regional);
    await waitFor(`${sys.api}/readyz`, "kefu-regional", regional);
    if (wasmEdge) {
      const wt = process.env.KEFU_WASMTIME || path.join(ROOT, ".kefu/bin/wasmtime");
      const wasm = path.join(ROOT, "target/edge/kefu-edge-wasmtime.wasm");
      for (const f of [wt, wasm]) if (!existsSync(f)) throw new Error(`${f} missing: run scripts/setup.sh and scripts/build-edge.sh`);
      // Its stderr (a "Serving HTTP" banner, aborted long polls) is kept
      // and shown only when it does not come up.
      const w = spawn(wt, ["serve", "--addr", `127.0.0.1:${edgePort}`, "-S", "cli",
        "--env", `SPIN_VARIABLE_REGIONAL_URL=${sys.api}`, "--env", `SPIN_VARIABLE_REGIONAL_SECRET=${EDGE_KEY}`, wasm],
        { stdio: ["ignore", "ignore", "pipe"] });
      let log = "";
      w.stderr.on("data", (d) => { log = (log + d).slice(-4000); });
      children.push(w);
      try {
        await waitFor(`${sys.edge}/healthz`, "the wasm edge", w);
      } catch (e) {
        throw new Error(`${e.message}\n${log}`);
      }
    }
    await waitFor(`${sys.edge}/healthz`, "the edge", children[children.length - 1]);
    return sys;
  } catch (e) {
    await sys.stop();
    throw e;
  }
}

/** A tenant whose widget may be used from `origins` (default: the test page's origin). */
export async function createTenant(sys, { id = "shop", name = "Spruce Shop", origins = [sys.page] } = {}) {
  const r = await fetch(`${sys.api}/admin/v1/tenants`, { method: "POST", headers: sys.op, body: JSON.stringify({ id, name }) });
  if (!r.ok) throw new Error(`create tenant: ${r.status} ${await r.text()}`);
  const t = await r.json();
  const s = await fetch(`${sys.api}/admin/v1/tenants/${id}/settings`, { method: "PATCH", headers: sys.op,
    body: JSON.stringify({ allowed_origins: origins }) });
  if (!s.ok) throw new Error(`settings: ${s.status} ${await s.text()}`);
  return { id, apiKey: t.api_key, widgetKey: t.widget_key,
    tenantHeaders: { authorization: `Bearer ${t.api_key}`, "content-type": "application/json" } };
}

/**
 * Loads `fixtures/shop/kb.json` through the KB routes and publishes it. A
 * publish that answers with a `job_id` is polled at `GET /v1/kb/jobs/{id}`.
 * When the routes do not exist (404) it returns `{loaded: false}` so the
 * caller can say so; any other failure throws.
 */
export async function loadShopKb(sys, tenant) {
  const tk = tenant.tenantHeaders;
  const shop = JSON.parse(readFileSync(path.join(ROOT, "fixtures/shop/kb.json"), "utf8"));
  for (const [p, body] of [["/v1/kb/faqs", shop.faqs], ["/v1/kb/documents", shop.documents]]) {
    const res = await fetch(sys.api + p, { method: "POST", headers: tk, body: JSON.stringify(body) });
    if (res.status === 404) return { loaded: false, reason: `${p} is 404: the knowledge-base routes are not merged` };
    if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  }
  const pub = await fetch(`${sys.api}/v1/kb/publish`, { method: "POST", headers: tk });
  if (!pub.ok) throw new Error(`publish: ${pub.status} ${await pub.text()}`);
  let report = await pub.json();
  if (report.job_id) {
    const end = Date.now() + 120000;
    for (;;) {
      const j = await (await fetch(`${sys.api}/v1/kb/jobs/${encodeURIComponent(report.job_id)}`, { headers: tk })).json();
      if (j.state === "done" || j.status === "done" || j.state === "succeeded") { report = j; break; }
      if (j.state === "failed" || j.status === "failed") throw new Error(`publish job failed: ${JSON.stringify(j)}`);
      if (Date.now() > end) throw new Error(`publish job still running after 120 s: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { loaded: true, report };
}

/**
 * Serves `render(url)` at `sys.page` (one server per system). `render`
 * returns the HTML, or `{html, headers}`. Closed by `sys.stop()`.
 */
export async function servePage(sys, render) {
  const server = createServer((req, res) => {
    let out;
    try { out = render(new URL(req.url, sys.page)); } catch (e) { res.writeHead(500); res.end(String(e)); return; }
    if (out == null) { res.writeHead(404); res.end(); return; }
    const { html, headers = {} } = typeof out === "string" ? { html: out } : out;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...headers });
    res.end(html);
  });
  await new Promise((r) => server.listen(sys.pagePort, "127.0.0.1", r));
  sys.addCleanup(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));
}

/** Host-page CSS that tries to break any widget it can reach. */
export const HOSTILE_CSS = `* { display: none !important; font-size: 64px !important; color: red !important; }
html, body { display: block !important; } h1 { display: block !important; }
button, textarea, div { visibility: hidden !important; position: static !important; }`;

/**
 * The shop test page. Query: `lang=zh|en`, `hostile=1` (HOSTILE_CSS),
 * `csp=1` (a strict Content-Security-Policy: scripts and fetches only from
 * the edge, no inline script or style, no eval; no inline helper script).
 * Other pages define `window.__xss(n)` and hook `alert`, `confirm`, `prompt`,
 * `print` and `console.log`: every call is recorded in `__xssHits`.
 */
export function shopPage(sys, widgetKey) {
  return (u) => {
    if (u.pathname !== "/") return null;
    const csp = u.searchParams.get("csp") === "1";
    const css = u.searchParams.get("hostile") ? `<style>${HOSTILE_CSS}</style>` : "";
    // __xss(n), alert-likes and console.log all record into __xssHits.
    const helper = csp ? "" : `<script>window.__xssHits=[];window.__xss=function(n){window.__xssHits.push(n)};
["alert","confirm","prompt","print"].forEach(function(f){window[f]=function(n){window.__xssHits.push(f+":"+n)}});
(function(l){console.log=function(){window.__xssHits.push("console:"+[].join.call(arguments," "));return l.apply(console,arguments)}})(console.log);</script>`;
    const attrs = [...u.searchParams].filter(([k]) => k.startsWith("data-")).map(([k, v]) => ` ${k}="${v.replace(/[^\w#.-]/g, "")}"`).join("");
    const html = `<!doctype html><html lang="${(u.searchParams.get("lang") || "en").replace(/\W/g, "")}"><head><meta charset="utf-8"><title>shop</title>
${css}</head><body><h1>Test shop</h1><p><a href="#top" id="host-link">a host link</a></p>
${helper}<script src="${sys.edge}/widget.js" data-widget-key="${widgetKey}"${attrs} async></script></body></html>`;
    const headers = csp ? { "content-security-policy":
      `default-src 'none'; script-src ${sys.edge}; connect-src ${sys.edge}; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'` } : {};
    return { html, headers };
  };
}

/**
 * The whole system for one widget test: `{api, edge, page, apiKey, widgetKey,
 * tenantHeaders, kb, stop()}`; `kb.loaded` says whether the shop KB is in.
 */
export async function startSystem({ wasmEdge = false, kb = true, env = {} } = {}) {
  const sys = await startRegional({ wasmEdge, env });
  try {
    const t = await createTenant(sys);
    Object.assign(sys, t);
    sys.kb = kb ? await loadShopKb(sys, t) : { loaded: false, reason: "not requested" };
    await servePage(sys, shopPage(sys, t.widgetKey));
    return sys;
  } catch (e) {
    await sys.stop();
    throw e;
  }
}

/** Headless Debian Chromium with the flags CI uses. */
export async function launch() {
  const executablePath = process.env.KEFU_CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath} missing: scripts/setup.sh installs Debian's chromium`);
  return chromium.launch({ executablePath, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
}

/** The one conversation of the tenant, as the tenant API shows it. */
export async function transcript(sys) {
  const list = await (await fetch(`${sys.api}/v1/conversations`, { headers: sys.tenantHeaders })).json();
  if (list.conversations.length !== 1) throw new Error(`expected one conversation, got ${JSON.stringify(list)}`);
  const id = list.conversations[0].id;
  return (await fetch(`${sys.api}/v1/conversations/${id}`, { headers: sys.tenantHeaders })).json();
}

/** Appends a message as an agent (or `role`) through the tenant API; returns the response. */
export async function agentSays(sys, conv, text, role = "agent") {
  const body = { role, text };
  if (role === "agent") body.source = "agent";
  return fetch(`${sys.api}/v1/conversations/${conv}/messages`, { method: "POST", headers: sys.tenantHeaders, body: JSON.stringify(body) });
}

/** The widget's conversation id, from its localStorage record. */
export async function conversationOf(page, widgetKey) {
  return page.evaluate((k) => JSON.parse(localStorage.getItem("kefu:" + k) || "{}").conv, widgetKey);
}

/** Helpers for the widget inside its shadow root. */
export function widget(page) {
  const q = (sel) => page.locator(`[data-kefu] >> ${sel}`);
  return {
    q,
    launcher: q(".launch"),
    panel: q(".panel"),
    log: q(".log"),
    input: q("form:not(.leave) textarea"),
    send: q("form:not(.leave) .send"),
    human: q("header .hbtn").first(),
    close: q("header .hbtn").nth(1),
    status: q(".status"),
    messages: q(".msg:not(.typing)"),
    async open() { await this.launcher.click(); await this.input.waitFor(); },
    async ask(text) { await this.input.fill(text); await this.input.press("Enter"); },
    /** Waits until the status line matches `re`. */
    async statusMatches(re, timeout = 10000) {
      try {
        await page.waitForFunction((src) => new RegExp(src).test(document.querySelector("[data-kefu]").shadowRoot.querySelector(".status").textContent),
          re.source, { timeout });
      } catch (e) {
        const log = await page.evaluate(() => [...document.querySelector("[data-kefu]").shadowRoot.querySelectorAll(".msg, .status")]
          .map((m) => `${m.className}: ${m.textContent}`).join("\n"));
        throw new Error(`status never matched ${re}:\n${log}`);
      }
    },
    /** Waits for the `n`th bot/agent bubble (1-based) to be complete and returns it. */
    async answer(n) {
      const b = q(".msg.bot, .msg.agent").nth(n - 1);
      await b.locator(".body").waitFor();
      await page.waitForFunction(([i]) => {
        const root = document.querySelector("[data-kefu]").shadowRoot;
        const m = root.querySelectorAll(".msg.bot, .msg.agent")[i];
        return m && m.hasAttribute("data-seq");
      }, [n - 1]);
      return b;
    },
  };
}
