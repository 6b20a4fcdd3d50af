/*! kefu chat widget. Served by the edge as /widget.js.
 * Embed: <script src="https://EDGE/widget.js" data-widget-key="…" async></script>
 * Optional: data-lang="zh|en", data-color="#0b6e4f", data-position="right|left",
 * data-open="true", data-visitor-id + data-visitor-sig (signed identity from the
 * host page), data-api (edge base URL; default: where this script came from).
 * JS API: window.Kefu.open(), .close(), .identify(id, sig), .strings({...}),
 * .language("zh"|"en").
 * Everything a visitor, model or agent wrote is rendered as text (textContent);
 * the small Markdown subset is built from DOM nodes, never HTML strings.
 * Strict-CSP safe: no eval, no inline script; styles go in a constructed
 * stylesheet (adoptedStyleSheets) and through the CSSOM, which style-src
 * does not govern. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.Kefu) return;
  var ds = script.dataset || {};
  var KEY = ds.widgetKey;
  if (!KEY) { console.warn("kefu: data-widget-key is missing"); return; }
  var API = (ds.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var STORE = "kefu:" + KEY;
  var lang = (ds.lang || document.documentElement.lang || navigator.language || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  var S = {
    zh: { title: "在线客服", open: "打开客服对话", close: "关闭", send: "发送", placeholder: "请输入您的问题…",
      human: "转人工", humanMsg: "转人工", typing: "正在输入…", sources: "参考：", queued: "正在为您排队转接人工客服…",
      withAgent: "人工客服已接入", agentLeft: "人工客服已离开，我会继续为您解答", offline: "网络已断开，消息将在恢复后发送",
      wait: "发送太频繁了，请 {s} 秒后再试", failed: "发送失败，稍后自动重试", identity: "无法确认您的身份，请刷新页面或重新登录后再试。", you: "我", bot: "客服助手", agent: "人工客服",
      contact: "手机号或邮箱", leaveMsg: "请描述您的问题", leaveSend: "提交留言", badContact: "请填写有效的手机号或邮箱", needMsg: "请填写留言内容", contactLabel: "联系方式：" },
    en: { title: "Customer service", open: "Open the chat", close: "Close", send: "Send", placeholder: "Type your question…",
      human: "Talk to a human", humanMsg: "I'd like to talk to a human", typing: "Typing…", sources: "Sources:",
      queued: "Connecting you to a human agent…", withAgent: "A human agent has joined", agentLeft: "The agent has left; I'm here to help again",
      offline: "You're offline; your message will be sent when you're back", wait: "Too many messages; please wait {s} s",
      failed: "Couldn't send; retrying shortly", identity: "We couldn't confirm who you are. Please reload the page or sign in again.", you: "You", bot: "Assistant", agent: "Agent",
      contact: "Phone or e-mail", leaveMsg: "Your message", leaveSend: "Leave message", badContact: "Please enter a valid phone number or e-mail", needMsg: "Please write your message", contactLabel: "Contact: " }
  };
  var over = {};
  var T = copy(S[lang]);
  var state = load();
  var ui = null, polling = null, sending = false, handoff = false, agentIn = false, rendered = {}, misses = 0;

  function copy(o) { var r = {}; for (var k in o) r[k] = o[k]; for (k in over) if (k in r) r[k] = over[k]; return r; }

  function load() {
    var s = null;
    try { s = JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { s = null; }
    s = s || {};
    if (!s.visitor) s.visitor = "v_" + uuid().replace(/-/g, "").slice(0, 24);
    s.seq = s.seq || 0;
    s.outbox = s.outbox || [];
    return s;
  }
  function save() { try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode */ } }
  // The conversation a reply names. Another one than ours (the old one was
  // closed or erased) starts its seqs afresh: what was rendered under the
  // old seqs must not hide the new turns.
  function adopt(conv) {
    if (!conv || conv === state.conv) return;
    if (state.conv) { state.seq = 0; rendered = {}; }
    state.conv = conv;
    save();
  }
  // The conversation is gone (erased, or unknown to the service): the next
  // message starts a new one.
  function forget() { state.conv = null; state.seq = 0; rendered = {}; misses = 0; save(); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function visitorId() { return ds.visitorId || state.visitor; }
  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") n.textContent = attrs[k]; else n.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) n.appendChild(c); });
    return n;
  }

  // A Markdown subset (**bold**, [text](http…), bare http(s) URLs, "- " lists,
  // line breaks) built as DOM nodes; anything else stays literal text.
  function inline(parent, text) {
    var re = /\*\*([^*]+)\*\*|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"')]+)/g, last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1]) parent.appendChild(el("strong", { text: m[1] }));
      else parent.appendChild(link(m[2] || m[4], m[3] || m[4]));
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function link(label, href) {
    var a = el("a", { text: label, target: "_blank", rel: "noopener noreferrer nofollow" });
    if (/^https?:\/\//i.test(href)) a.href = href;
    return a;
  }
  function markdown(box, text) {
    box.textContent = "";
    var list = null;
    String(text).split("\n").forEach(function (line, i) {
      var item = /^\s*[-*]\s+(.*)$/.exec(line);
      if (item) {
        if (!list) { list = el("ul"); box.appendChild(list); }
        var li = el("li"); inline(li, item[1]); list.appendChild(li);
        return;
      }
      list = null;
      if (i > 0) box.appendChild(el("br"));
      inline(box, line);
    });
  }

  var CSS = ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif}" +
    ".launch{position:fixed;bottom:20px;SIDE:20px;width:56px;height:56px;border-radius:50%;border:0;background:COLOR;color:#fff;font-size:24px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483646;display:block}" +
    ".panel{position:fixed;bottom:88px;SIDE:20px;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);background:#fff;color:#1d1d1f;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483647;font-size:14px;line-height:1.45}" +
    ".panel[hidden]{display:none}header{background:COLOR;color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}header h2{font-size:15px;margin:0;flex:1;font-weight:600}" +
    "button{font:inherit}.hbtn{background:rgba(255,255,255,.2);color:#fff;border:0;border-radius:6px;padding:4px 8px;cursor:pointer}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}" +
    ".msg{max-width:85%;padding:8px 10px;border-radius:10px;white-space:normal;word-wrap:break-word;overflow-wrap:anywhere}" +
    ".visitor{align-self:flex-end;background:COLOR;color:#fff}.bot,.agent{align-self:flex-start;background:#fff;border:1px solid #e3e5e8}.agent{border-color:COLOR}" +
    ".system{align-self:center;background:transparent;color:#666;font-size:12px;text-align:center}.pending{opacity:.6}" +
    ".who{display:block;font-size:11px;color:#888;margin-bottom:2px}.visitor .who{color:rgba(255,255,255,.8)}" +
    ".cites{margin-top:6px;font-size:12px;color:#555;border-top:1px dashed #ddd;padding-top:4px}.cites a{color:COLOR}.cites span{display:block}" +
    ".status{padding:6px 12px;font-size:12px;background:#fff7e0;color:#6b5000}.status[hidden]{display:none}" +
    "form{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e5e8;background:#fff}textarea{flex:1;resize:none;height:40px;border:1px solid #ccd;border-radius:8px;padding:8px;font:inherit;color:#1d1d1f;background:#fff}" +
    ".send{background:COLOR;color:#fff;border:0;border-radius:8px;padding:0 14px;cursor:pointer}a{color:inherit}" +
    ".cites small{display:block;color:#777}.launch.dot::after{content:'';position:absolute;top:4px;right:4px;width:12px;height:12px;border-radius:50%;background:#e5484d}" +
    "button:focus-visible,textarea:focus-visible,input:focus-visible,a:focus-visible{outline:2px solid #1a73e8;outline-offset:2px}" +
    ".leave{flex-direction:column;padding:8px 0 0;border:0;background:transparent}.leave input,.leave textarea{flex:none;height:auto;border:1px solid #ccd;border-radius:8px;padding:6px 8px;font:inherit;color:#1d1d1f;background:#fff}.leave .send{padding:6px 14px}.ferr{color:#b3261e;font-size:12px}";

  function build() {
    // The host sits in the page's own DOM, where any rule (even
    // `* { display: none !important }`) reaches it; an inline !important
    // style outranks those. Inside the shadow root the page's CSS cannot reach.
    // Set through the CSSOM (not a style attribute), which a strict
    // style-src does not block.
    var host = el("kefu-chat", { "data-kefu": "" });
    [["all", "initial"], ["display", "block"], ["visibility", "visible"], ["opacity", "1"],
      ["position", "static"], ["width", "0"], ["height", "0"]].forEach(function (p) { host.style.setProperty(p[0], p[1], "important"); });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var side = ds.position === "left" ? "left" : "right";
    var color = /^#[0-9a-f]{3,8}$/i.test(ds.color || "") ? ds.color : "#0b6e4f";
    var css = CSS.replace(/SIDE/g, side).replace(/COLOR/g, color);
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(el("style", { text: css }));
    }
    var launch = el("button", { "class": "launch", "aria-label": T.open, "aria-expanded": "false", text: "💬" });
    root.appendChild(launch);
    document.body.appendChild(host);
    ui = { host: host, root: root, launch: launch };
    launch.addEventListener("click", function () { ui.panel && !ui.panel.hidden ? close() : open(); });
  }

  function buildPanel() {
    var title = el("h2", { id: "kefu-title", text: T.title });
    var human = el("button", { "class": "hbtn", type: "button", text: T.human });
    var x = el("button", { "class": "hbtn", type: "button", "aria-label": T.close, text: "✕" });
    var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
    var status = el("div", { "class": "status", role: "status", hidden: "" });
    var input = el("textarea", { "aria-label": T.placeholder, placeholder: T.placeholder, maxlength: "4000", rows: "1" });
    var send = el("button", { "class": "send", type: "submit", text: T.send });
    var form = el("form", {}, [input, send]);
    var panel = el("div", { "class": "panel", role: "dialog", "aria-labelledby": "kefu-title", hidden: "" },
      [el("header", {}, [title, human, x]), log, status, form]);
    ui.root.appendChild(panel);
    ui.panel = panel; ui.log = log; ui.status = status; ui.input = input; ui.human = human;
    ui.title = title; ui.x = x; ui.send = send;
    x.addEventListener("click", close);
    human.addEventListener("click", function () { submit(T.humanMsg); });
    form.addEventListener("submit", function (e) { e.preventDefault(); submit(input.value); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(input.value); }
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); close(); return; }
      // Focus trap-lite: Tab cycles within the open dialog.
      if (e.key !== "Tab") return;
      var f = [human, x, input, send].filter(function (n) { return !n.disabled; });
      var at = f.indexOf(ui.root.activeElement);
      if (e.shiftKey && at <= 0) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && at === f.length - 1) { e.preventDefault(); f[0].focus(); }
    });
  }
  // Labels after a language or string change.
  function relabel() {
    if (!ui) return;
    ui.launch.setAttribute("aria-label", T.open);
    if (!ui.panel) return;
    ui.title.textContent = T.title; ui.human.textContent = T.human; ui.send.textContent = T.send;
    ui.x.setAttribute("aria-label", T.close);
    ui.input.setAttribute("aria-label", T.placeholder); ui.input.setAttribute("placeholder", T.placeholder);
  }

  function open() {
    if (!ui) build();
    if (!ui.panel) { buildPanel(); history(); }
    ui.panel.hidden = false;
    ui.launch.setAttribute("aria-expanded", "true");
    ui.launch.classList.remove("dot");
    ui.input.focus();
    poll();
  }
  function close() {
    if (!ui || !ui.panel) return;
    ui.panel.hidden = true;
    ui.launch.setAttribute("aria-expanded", "false");
    ui.launch.focus();
  }
  // Network notices (offline, please wait, retrying) are cleared by the next
  // success; handoff notices stay until the handoff changes.
  var netNotice = false;
  function setStatus(text, net) {
    netNotice = !!net && !!text;
    if (!ui || !ui.status) return;
    ui.status.textContent = text || "";
    ui.status.hidden = !text;
  }
  function scroll() { ui.log.scrollTop = ui.log.scrollHeight; }

  // A reply's role, which the chat reply does not carry: a notice while a
  // person has the conversation ("an agent will reply here") is a system
  // line, as the stored turn (and so a reload) shows it, not the bot's.
  function roleOf(source, withHuman) {
    return source === "agent" ? "agent" : withHuman && source === "fallback" ? "system" : "bot";
  }
  // The same notice again (each message to an agent gets one) is kept, with
  // its seq, but not shown: once is enough.
  var lastNotice = null;
  function quiet(m) {
    if (!m.classList.contains("system") || !m.hasAttribute("data-seq")) return;
    if (m.kefuText === lastNotice) m.hidden = true;
    else lastNotice = m.kefuText;
  }

  function bubble(role, text, opts) {
    opts = opts || {};
    var who = role === "visitor" ? T.you : role === "agent" ? T.agent : role === "system" ? "" : T.bot;
    var body = el("div", { "class": "body" });
    markdown(body, text || "");
    var m = el("div", { "class": "msg " + role + (opts.pending ? " pending" : "") }, [who ? el("span", { "class": "who", text: who }) : null, body]);
    m.kefuText = text;
    if (opts.seq) { m.setAttribute("data-seq", String(opts.seq)); rendered[opts.seq] = true; }
    if (opts.source) m.setAttribute("data-source", opts.source);
    quiet(m);
    ui.log.appendChild(m);
    if (opts.source === "leave_message") leaveForm(m);
    if (opts.citations) cites(m, opts.citations);
    scroll();
    return { node: m, body: body };
  }
  function cites(m, list) {
    if (!list || !list.length) return;
    var box = el("div", { "class": "cites" }, [el("span", { text: T.sources })]);
    list.forEach(function (c) {
      var line = el("span");
      if (c.url && /^https?:\/\//i.test(c.url)) line.appendChild(link(c.title || c.url, c.url));
      else line.appendChild(document.createTextNode(c.title || c.id || ""));
      if (c.snippet) {
        var sn = String(c.snippet);
        line.appendChild(el("small", { text: sn.length > 140 ? sn.slice(0, 139) + "…" : sn }));
      }
      box.appendChild(line);
    });
    m.appendChild(box);
  }
  // Nobody can take the conversation now: a form for contact + message
  // under kefu's request (the latest one only). It is sent as one ordinary
  // message, "message\nContact: …", so it goes through the outbox like any
  // other (kept offline, retried, stored once); the service keeps the
  // contact as its own field.
  function leaveForm(m) {
    dropForm();
    var contact = el("input", { type: "text", "aria-label": T.contact, placeholder: T.contact, maxlength: "100", autocomplete: "email" });
    var msg = el("textarea", { "aria-label": T.leaveMsg, placeholder: T.leaveMsg, maxlength: "3000", rows: "3" });
    var err = el("div", { "class": "ferr", role: "alert" });
    var f = el("form", { "class": "leave", "data-form": "leave-message" }, [contact, msg, err, el("button", { "class": "send", type: "submit", text: T.leaveSend })]);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var c = contact.value.trim(), t = msg.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(c) && !/^\+?[\d\s()-]{7,20}$/.test(c)) { err.textContent = T.badContact; contact.focus(); return; }
      if (!t) { err.textContent = T.needMsg; msg.focus(); return; }
      submit(t + "\n" + T.contactLabel + c);
    });
    m.appendChild(f); ui.leave = f;
  }
  function dropForm() { if (ui && ui.leave) { ui.leave.remove(); ui.leave = null; } }

  // Handoff states: queued (handoff set, no agent yet), agent joined (an
  // agent's message), agent left (handoff cleared after an agent was in).
  function showHandoff(on, fromPoll) {
    if (on && !handoff && !agentIn) setStatus(T.queued);
    if (!on && handoff && fromPoll) { setStatus(agentIn ? T.agentLeft : ""); agentIn = false; }
    handoff = !!on;
    if (ui && ui.human) ui.human.disabled = handoff;
  }

  // A message from a poll or the history. The chat reply does not move
  // state.seq: the next poll brings the visitor's own turn with its seq.
  function render(m) {
    if (!m) return;
    if (m.seq > state.seq) { state.seq = m.seq; save(); }
    if (rendered[m.seq]) return;
    var role = m.role === "visitor" || m.role === "agent" || m.role === "system" ? m.role : "bot";
    if (role === "visitor") {
      dropForm();
      // The visitor's own message, already on screen while it was sent:
      // give that bubble its seq instead of showing the message twice.
      var mine = ui.log.querySelectorAll(".msg.visitor:not([data-seq])");
      for (var i = 0; i < mine.length; i++) {
        if (mine[i].kefuText === m.text) {
          mine[i].setAttribute("data-seq", String(m.seq));
          rendered[m.seq] = true;
          return;
        }
      }
    }
    bubble(role, m.text, { seq: m.seq, citations: m.citations, source: m.source });
    if (role === "agent") { agentIn = true; setStatus(T.withAgent); }
    if (role !== "visitor" && ui.panel.hidden) ui.launch.classList.add("dot");
  }

  function query(since) {
    var q = "?since=" + since + "&widget_key=" + encodeURIComponent(KEY) + "&visitor_id=" + encodeURIComponent(visitorId());
    if (ds.visitorSig) q += "&visitor_sig=" + encodeURIComponent(ds.visitorSig);
    return q;
  }
  function history() {
    if (!state.conv) return;
    fetch(API + "/v1/conversations/" + encodeURIComponent(state.conv) + "/messages" + query(0))
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) { if (b) { (b.messages || []).forEach(render); showHandoff(b.handoff, true); } })
      .catch(function () {});
  }

  // Long poll for agent messages: one request outstanding, caught up by seq
  // (rendered messages are skipped by seq). A poll that outlives the edge's
  // 25 s wait (a laptop that slept, a dead connection) is abandoned; coming
  // back online or to the tab starts a fresh one at once.
  var POLL_MS = 35000;
  function poll(restart) {
    if (!state.conv) return;
    if (polling) { if (!restart) return; polling.abort(); }
    var me = polling = window.AbortController ? new AbortController() : { abort: function () {} };
    var timer = setTimeout(function () { me.abort(); }, POLL_MS);
    var url = API + "/v1/conversations/" + encodeURIComponent(state.conv) + "/messages" + query(state.seq);
    fetch(url, { signal: me.signal }).then(function (r) {
      if (r.status === 429) return { retry: retryAfter(r) };
      // Erased at the business's request: forget it; the next message
      // starts a new conversation.
      if (r.status === 410) return { gone: true };
      // Unknown: maybe a store not yet caught up (asked again), maybe
      // purged after its retention period (forgotten after 30 s of 404s).
      if (r.status === 404) return { missing: true };
      if (r.ok) misses = 0;
      return r.ok ? r.json() : { retry: 5000 };
    }).then(function (b) {
      clearTimeout(timer);
      if (polling !== me) return;
      polling = null;
      if (b && b.gone) { forget(); return; }
      if (b && b.missing) {
        if (++misses >= 6) { forget(); return; }
        b = { retry: 5000 };
      }
      // A degraded answer is the edge's own, possibly stale, copy: its
      // messages are fine to show, its handoff flag is not news.
      if (b && b.messages) { b.messages.forEach(render); if (!b.degraded) showHandoff(b.handoff, true); }
      setTimeout(poll, b && b.retry ? b.retry : b && b.degraded ? (b.retry_ms || 5000) : 0);
    }).catch(function () {
      clearTimeout(timer);
      if (polling !== me) return;
      polling = null;
      // Offline: the "online" event starts the next poll.
      if (navigator.onLine) setTimeout(poll, 3000);
    });
  }
  function retryAfter(r) { return Math.max(1, parseInt(r.headers.get("retry-after") || "5", 10)) * 1000; }

  function submit(text) {
    text = String(text || "").trim();
    if (!text) return;
    if (ui && ui.input) ui.input.value = "";
    dropForm();
    var item = { id: uuid(), text: text };
    state.outbox.push(item); save();
    item.view = bubble("visitor", text, { pending: true });
    flush();
  }

  // Sends queued messages one at a time, oldest first; a retry reuses the
  // message's client id, so the service stores it once.
  function flush() {
    if (sending || !state.outbox.length) return;
    if (!navigator.onLine) { setStatus(T.offline, true); return; }
    sending = true;
    var item = state.outbox[0];
    if (!item.view && ui) item.view = bubble("visitor", item.text, { pending: true });
    var typing = bubble("system", T.typing);
    typing.node.classList.add("typing");
    var body = { widget_key: KEY, visitor_id: visitorId(), message: item.text, client_msg_id: item.id };
    if (state.conv) body.conversation_id = state.conv;
    if (ds.visitorSig) body.visitor_sig = ds.visitorSig;
    fetch(API + "/v1/chat?widget_key=" + encodeURIComponent(KEY), {
      method: "POST", headers: { "content-type": "application/json", accept: "text/event-stream" }, body: JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 429) {
        var ms = retryAfter(r);
        setStatus(T.wait.replace("{s}", String(Math.ceil(ms / 1000))), true);
        throw { retry: ms };
      }
      // 5xx (the service is busy or down; an edge with no store of its own
      // answers 503 rather than promise what it cannot keep): kept here,
      // said so, and retried with the same id.
      if (r.status >= 500) {
        setStatus(T.failed, true);
        throw { retry: r.headers.get("retry-after") ? retryAfter(r) : 5000 };
      }
      // 401: the host page's visitor signature was refused; nothing was stored.
      if (r.status === 401) throw { fatal: T.identity };
      // Our conversation is unknown to the service (purged after its
      // retention period, or never delivered there): nothing was stored;
      // the message goes again, same id, as the first of a new one.
      if (r.status === 404 && body.conversation_id) throw { lost: true };
      if (!r.ok) return r.json().then(function (e) { throw { fatal: e && e.error ? e.error.message : String(r.status) }; }, function () { throw { fatal: String(r.status) }; });
      var ct = r.headers.get("content-type") || "";
      return ct.indexOf("text/event-stream") === 0 && r.body ? stream(r, typing) : r.json().then(function (j) { return whole(j, typing); });
    }).then(function () {
      state.outbox.shift(); save();
      if (item.view) item.view.node.classList.remove("pending");
      sending = false;
      if (netNotice) setStatus("");
      poll();
      flush();
    }).catch(function (e) {
      sending = false;
      if (typing.node.parentNode) typing.node.remove();
      if (e && e.lost) { forget(); flush(); return; }
      if (e && e.fatal) {
        state.outbox.shift(); save();
        bubble("system", e.fatal);
        flush();
        return;
      }
      if (!(e && e.retry)) setStatus(navigator.onLine ? T.failed : T.offline, true);
      setTimeout(flush, e && e.retry ? e.retry : 3000);
    });
  }

  function whole(j, typing) {
    typing.node.remove();
    adopt(j.conversation_id);
    if (j.seq && rendered[j.seq]) { save(); showHandoff(j.handoff); return; }
    var b = bubble(roleOf(j.source, j.handoff), j.answer, { seq: j.seq, citations: j.citations, source: j.source });
    save();
    showHandoff(j.handoff);
    return b;
  }

  // Reads the SSE body as it arrives: meta, then delta text, then done.
  function stream(r, typing) {
    var reader = r.body.getReader(), dec = new TextDecoder(), buf = "", view = null, text = "", meta = {}, skip = false;
    function handle(ev, data) {
      var d = {};
      try { d = JSON.parse(data); } catch (e) { return; }
      if (ev === "meta") {
        meta = d;
        adopt(d.conversation_id);
        // The long poll may have shown this turn already; else claim its seq.
        if (d.seq && rendered[d.seq]) skip = true;
        else if (d.seq) rendered[d.seq] = true;
        showHandoff(d.handoff);
      } else if (skip) {
        if (typing.node.parentNode) typing.node.remove();
      } else if (ev === "delta") {
        if (!view) { typing.node.remove(); view = bubble(roleOf(meta.source, meta.handoff), "", { source: meta.source }); }
        text += d.text || "";
        markdown(view.body, text);
        view.node.setAttribute("data-updates", String(+(view.node.getAttribute("data-updates") || 0) + 1));
        scroll();
        // Paint each piece before the next, however many arrived at once.
        return new Promise(function (ok) { setTimeout(ok, 30); });
      } else if (ev === "done") {
        var seq = d.seq || meta.seq;
        adopt(d.conversation_id);
        if (d.handoff !== undefined) showHandoff(d.handoff);
        // A streamed answer learns its seq only now: if the long poll showed
        // the stored turn meanwhile, keep that one.
        if (!meta.seq && seq && rendered[seq]) {
          if (view) view.node.remove();
          if (typing.node.parentNode) typing.node.remove();
          return;
        }
        var src = d.source || meta.source;
        var human = d.handoff !== undefined ? d.handoff : meta.handoff;
        if (!view) { typing.node.remove(); view = bubble(roleOf(src, human), d.answer || text, { source: src }); }
        // The stored answer is what counts: deltas were a preview of it.
        else if (typeof d.answer === "string" && d.answer !== text) { markdown(view.body, d.answer); }
        if (src) view.node.setAttribute("data-source", src);
        view.node.kefuText = typeof d.answer === "string" ? d.answer : text;
        if (seq) { view.node.setAttribute("data-seq", String(seq)); rendered[seq] = true; }
        quiet(view.node);
        cites(view.node, d.citations || []);
        scroll();
      } else if (ev === "error") {
        throw { retry: 3000 };
      }
    }
    function pump() {
      return reader.read().then(function (c) {
        if (c.done) return;
        buf += dec.decode(c.value, { stream: true }).replace(/\r\n?/g, "\n");
        var i, events = [];
        while ((i = buf.indexOf("\n\n")) >= 0) {
          var block = buf.slice(0, i), ev = "message", data = [];
          buf = buf.slice(i + 2);
          block.split("\n").forEach(function (l) {
            if (l.indexOf("event:") === 0) ev = l.slice(6).trim();
            else if (l.indexOf("data:") === 0) data.push(l.slice(5).replace(/^ /, ""));
          });
          events.push([ev, data.join("\n")]);
        }
        return events.reduce(function (p, e) {
          return p.then(function () { return handle(e[0], e[1]); });
        }, Promise.resolve()).then(pump);
      });
    }
    // A stream cut short: drop the partial bubble and free its seq, so the
    // retry (same client id, same recorded answer) or the poll shows it whole.
    return pump().catch(function (e) {
      if (view) view.node.remove();
      if (meta.seq && !skip) delete rendered[meta.seq];
      throw e;
    });
  }

  window.addEventListener("online", function () { if (netNotice) setStatus(""); flush(); poll(true); });
  window.addEventListener("offline", function () { setStatus(T.offline, true); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && ui && ui.panel) { flush(); poll(true); }
  });

  window.Kefu = {
    open: open,
    close: close,
    identify: function (id, sig) { ds.visitorId = id; ds.visitorSig = sig; },
    strings: function (o) {
      for (var k in o) if (Object.prototype.hasOwnProperty.call(T, k)) over[k] = T[k] = String(o[k]);
      relabel();
    },
    language: function (l) { lang = String(l).toLowerCase().indexOf("zh") === 0 ? "zh" : "en"; T = copy(S[lang]); relabel(); },
    version: "2"
  };

  function start() {
    build();
    if (state.outbox.length) { buildPanel(); history(); flush(); }
    if (ds.open === "true") open();
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
