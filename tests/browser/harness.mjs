// Test harness for the widget in real Chromium: starts kefu-regional (and,
// on request, the wasm edge under `wasmtime serve`) on free loopback ports
// with a temp data dir, creates a tenant whose allowed origin is the test
// page's, loads the shop knowledge base, serves the test page, and stops
// only the processes it started.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const OPERATOR = "operator-token-for-browser-tests-0123";
const EDGE_KEY = "edge-key-for-browser-tests-0123456789";
const MASTER = "8f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5";

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

/** The whole system for one test: `{api, edge, page, apiKey, widgetKey, stop()}`. */
export async function startSystem({ wasmEdge = false, kb = true } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kefu-browser-"));
  const [apiPort, edgePort, pagePort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const edge = `http://127.0.0.1:${edgePort}`;
  const page = `http://127.0.0.1:${pagePort}`;
  const children = [];
  const bin = path.join(ROOT, "target/debug/kefu-regional");
  if (!existsSync(bin)) throw new Error(`${bin} missing: scripts/test-browser.sh builds it`);
  const regional = spawn(bin, ["serve"], {
    env: { ...process.env, KEFU_DATA_DIR: path.join(dir, "data"), KEFU_LISTEN: `127.0.0.1:${apiPort}`,
      KEFU_PUBLIC_LISTEN: wasmEdge ? "off" : `127.0.0.1:${edgePort}`, KEFU_OPERATOR_TOKEN: OPERATOR,
      KEFU_MASTER_KEY: MASTER, KEFU_EDGE_KEY: EDGE_KEY, KEFU_LOG: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(regional);
  const stop = async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(children.map((c) => c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))));
    if (server) await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  };
  let server = null;
  try {
    await waitFor(`${api}/readyz`, "kefu-regional", regional);
    if (wasmEdge) {
      const wt = process.env.KEFU_WASMTIME || path.join(ROOT, ".kefu/bin/wasmtime");
      const wasm = path.join(ROOT, "target/edge/kefu-edge-wasmtime.wasm");
      for (const f of [wt, wasm]) if (!existsSync(f)) throw new Error(`${f} missing: run scripts/setup.sh and scripts/build-edge.sh`);
      const w = spawn(wt, ["serve", "--addr", `127.0.0.1:${edgePort}`, "-S", "cli",
        "--env", `SPIN_VARIABLE_REGIONAL_URL=${api}`, "--env", `SPIN_VARIABLE_REGIONAL_SECRET=${EDGE_KEY}`, wasm],
        { stdio: ["ignore", "ignore", "inherit"] });
      children.push(w);
    }
    await waitFor(`${edge}/healthz`, "the edge", children[children.length - 1]);
    const op = { authorization: `Bearer ${OPERATOR}`, "content-type": "application/json" };
    const t = await (await fetch(`${api}/admin/v1/tenants`, { method: "POST", headers: op,
      body: JSON.stringify({ id: "shop", name: "Spruce Shop" }) })).json();
    const r = await fetch(`${api}/admin/v1/tenants/shop/settings`, { method: "PATCH", headers: op,
      body: JSON.stringify({ allowed_origins: [page] }) });
    if (!r.ok) throw new Error(`settings: ${r.status}`);
    const tk = { authorization: `Bearer ${t.api_key}`, "content-type": "application/json" };
    if (kb) {
      const shop = JSON.parse(readFileSync(path.join(ROOT, "fixtures/shop/kb.json"), "utf8"));
      for (const [p, body] of [["/v1/kb/faqs", shop.faqs], ["/v1/kb/documents", shop.documents]]) {
        const res = await fetch(api + p, { method: "POST", headers: tk, body: JSON.stringify(body) });
        if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
      }
      const pub = await fetch(`${api}/v1/kb/publish`, { method: "POST", headers: tk });
      if (!pub.ok) throw new Error(`publish: ${pub.status}`);
    }
    server = createServer((req, res) => {
      const u = new URL(req.url, page);
      const css = u.searchParams.get("hostile") ? HOSTILE_CSS : "";
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html lang="${u.searchParams.get("lang") || "en"}"><head><meta charset="utf-8"><title>shop</title>
<style>${css}</style></head><body><h1>Test shop</h1>
<script>window.__xssHits=[];window.__xss=function(n){window.__xssHits.push(n)};</script>
<script src="${edge}/widget.js" data-widget-key="${t.widget_key}" async></script></body></html>`);
    });
    await new Promise((r) => server.listen(pagePort, "127.0.0.1", r));
    return { api, edge, page, apiKey: t.api_key, widgetKey: t.widget_key, tenantHeaders: tk, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Host-page CSS that tries to break any widget it can reach. */
export const HOSTILE_CSS = `* { display: none !important; font-size: 64px !important; color: red !important; }
html, body { display: block !important; } h1 { display: block !important; }
button, textarea, div { visibility: hidden !important; position: static !important; }`;

export async function launch() {
  const executablePath = process.env.KEFU_CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath} missing: scripts/setup.sh installs Debian's chromium`);
  return chromium.launch({ executablePath, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
}

/** The widget's shadow root helpers for a page. */
export function widget(page) {
  const q = (sel) => page.locator(`[data-kefu] >> ${sel}`);
  return {
    launcher: q(".launch"),
    input: q("textarea"),
    send: q(".send"),
    human: q("header .hbtn").first(),
    status: q(".status"),
    messages: q(".msg:not(.typing)"),
    async open() { await this.launcher.click(); await this.input.waitFor(); },
    async ask(text) { await this.input.fill(text); await this.input.press("Enter"); },
    /** Waits for the `n`th bot/agent bubble (1-based) and returns its text. */
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
