// kefu agent console. Plain JS, no framework. Every piece of text from a
// visitor, an agent or a tenant is put on the page with textContent, never
// as HTML; the page's Content-Security-Policy allows only this script.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var me = null, open = null, lastSeq = 0, shown = {}, lastNotice = null, events = null, sending = 0;

  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch("/console/v1" + path, opts).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 401 && path !== "/login") { signedOut(); }
        if (!r.ok) { var e = new Error((j.error && j.error.message) || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return j;
      });
    });
  }
  function el(tag, cls, text) { var n = document.createElement(tag); if (cls) n.className = cls; if (text != null) n.textContent = String(text); return n; }
  function showError(e) { $("error").textContent = e ? (e.message || String(e)) : ""; }
  function ago(ms) { var s = Math.max(0, Math.round((Date.now() - ms) / 1000)); return s < 60 ? s + "s" : Math.round(s / 60) + "m"; }

  function signedOut() {
    me = null; open = null;
    if (events) { events.close(); events = null; }
    $("app").hidden = true; $("login").hidden = false; $("logout").hidden = true; $("whoami").textContent = "";
  }
  function signedIn(m) {
    me = m;
    $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
    $("whoami").textContent = m.name + " (" + m.agent_id + ")";
    follow(); refreshQueue(); loadColleagues();
  }

  $("login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("login-error").textContent = "";
    api("POST", "/login", { tenant: $("tenant").value.trim(), agent_id: $("agent").value.trim(), password: $("password").value })
      .then(function (m) { $("password").value = ""; signedIn(m); })
      .catch(function (e) { $("login-error").textContent = e.status === 401 ? "Wrong tenant, agent id or password." : e.message; });
  });
  $("logout").addEventListener("click", function () { api("POST", "/logout").then(signedOut, signedOut); });

  // Live changes: one event per changed conversation; reload what shows it.
  function follow() {
    if (events) events.close();
    events = new EventSource("/console/v1/events");
    events.addEventListener("ready", function () { refreshQueue(); if (open) loadMore(); });
    events.addEventListener("change", function (e) {
      refreshQueue();
      if (open && e.data === open) loadMore();
    });
    events.addEventListener("reload", function () { refreshQueue(); if (open) loadMore(); });
  }

  function item(q, list) {
    var li = el("li");
    li.dataset.conversation = q.conversation_id;
    if (open === q.conversation_id) li.className = "open";
    li.appendChild(el("span", "", q.conversation_id));
    var h = q.handoff, bits = [];
    if (h.reasons && h.reasons.length) bits.push(h.reasons.join(", "));
    if (h.group) bits.push("group " + h.group);
    if (list === "left") bits.push(h.left_messages.length + " message(s)");
    else bits.push("waiting " + ago(h.queued_ms));
    li.appendChild(el("small", "", bits.join(" · ")));
    li.addEventListener("click", function () { openConversation(q.conversation_id); });
    return li;
  }
  var queueBusy = false, queueAgain = false;
  function refreshQueue() {
    if (!me) return;
    if (queueBusy) { queueAgain = true; return; }
    queueBusy = true;
    api("GET", "/queue").then(function (q) {
      [["waiting", q.waiting], ["mine", q.mine], ["left", q.left_messages]].forEach(function (p) {
        var ul = $(p[0]); ul.textContent = "";
        p[1].forEach(function (x) { ul.appendChild(item(x, p[0])); });
        $("n-" + p[0]).textContent = "(" + p[1].length + ")";
      });
    }).catch(showError).then(function () {
      queueBusy = false;
      if (queueAgain) { queueAgain = false; refreshQueue(); }
    });
  }

  function loadColleagues() {
    api("GET", "/agents").then(function (a) {
      var sel = $("transfer-to"); sel.textContent = "";
      var groups = {};
      a.agents.forEach(function (x) {
        (x.groups || []).forEach(function (g) { groups[g] = true; });
        if (me && x.id === me.agent_id) return;
        var o = el("option", "", x.name + (x.online ? " ●" : " ○"));
        o.value = "agent:" + x.id; sel.appendChild(o);
      });
      Object.keys(groups).forEach(function (g) { var o = el("option", "", "group: " + g); o.value = "group:" + g; sel.appendChild(o); });
    }).catch(showError);
  }

  function render(m) {
    if (shown[m.seq]) return;
    shown[m.seq] = true;
    if (m.seq > lastSeq) lastSeq = m.seq;
    var role = ["visitor", "bot", "agent", "system"].indexOf(m.role) >= 0 ? m.role : "bot";
    var d = el("div", "msg " + role);
    d.dataset.seq = m.seq;
    // The notice each visitor message to a person gets, repeated: once is
    // enough (kept, with its seq, but hidden).
    if (role === "system") {
      if (m.text === lastNotice) d.hidden = true;
      else lastNotice = m.text;
    }
    if (role !== "system") d.appendChild(el("span", "who", role === "bot" ? "AI" + (m.source ? " · " + m.source : "") : role));
    d.appendChild(document.createTextNode(m.text));
    $("transcript").appendChild(d);
    d.scrollIntoView({ block: "end" });
  }

  // One line per routing decision or handoff change, with its reasons.
  function showRouting(events) {
    var ol = $("routing");
    ol.textContent = "";
    events.forEach(function (e) {
      var bits = [new Date(e.at_ms).toLocaleTimeString(), e.action, "#" + e.seq];
      if (e.reasons && e.reasons.length) {
        bits.push("why: " + e.reasons.map(function (r) {
          var extra = r.score !== undefined ? " " + r.score : r.keyword !== undefined ? " " + r.keyword : r.n !== undefined ? " " + r.n : "";
          return r.kind + extra;
        }).join(", "));
      }
      if (e.group) bits.push("group " + e.group);
      if (e.agent) bits.push("by " + e.agent);
      if (e.to) bits.push("to " + e.to);
      ol.appendChild(el("li", "route", bits.join(" · ")));
    });
  }

  function showDetail(c) {
    var h = c.handoff, mine = me && h.agent === me.agent_id;
    $("detail").hidden = false;
    $("conv-id").textContent = c.conversation.id;
    $("visitor").textContent = c.conversation.visitor_id || "anonymous";
    $("state").textContent = c.conversation.state + (h.agent ? " · " + h.agent : "");
    $("reasons").textContent = h.reasons && h.reasons.length ? "Why: " + h.reasons.join(", ") : "";
    $("summary").textContent = c.summary;
    $("contact").hidden = !c.contact;
    $("contact").textContent = c.contact ? "Contact: " + c.contact : "";
    showRouting(c.routing || []);
    $("accept").hidden = !!h.agent;
    ["transfer", "transfer-to", "handback", "close"].forEach(function (id) { $(id).hidden = !mine; });
    $("composer").hidden = !mine;
  }

  function openConversation(id) {
    open = id; lastSeq = 0; shown = {}; lastNotice = null;
    $("transcript").textContent = ""; showError(null);
    api("GET", "/conversations/" + encodeURIComponent(id)).then(function (c) {
      if (open !== id) return;
      showDetail(c); c.messages.forEach(render); refreshQueue();
    }).catch(function (e) { showError(e); });
  }
  var moreBusy = false, moreAgain = false;
  function loadMore() {
    if (!open) return;
    if (moreBusy) { moreAgain = true; return; }
    moreBusy = true;
    var id = open;
    api("GET", "/conversations/" + encodeURIComponent(id) + "?since=" + lastSeq).then(function (c) {
      if (open !== id) return;
      showDetail(c); c.messages.forEach(render);
    }).catch(function (e) {
      // Taken by someone else, or transferred away: no longer ours to read.
      if (e.status === 404) { open = null; $("detail").hidden = true; $("composer").hidden = true; }
      showError(e);
    }).then(function () {
      moreBusy = false;
      if (moreAgain) { moreAgain = false; loadMore(); }
    });
  }

  function act(path, body) {
    if (!open) return;
    var id = open;
    showError(null);
    return api("POST", "/conversations/" + encodeURIComponent(id) + path, body)
      .then(function () { refreshQueue(); if (open === id) loadMore(); })
      .catch(function (e) { showError(e); refreshQueue(); });
  }
  $("accept").addEventListener("click", function () { act("/accept"); });
  $("handback").addEventListener("click", function () { act("/handback"); });
  $("close").addEventListener("click", function () { act("/close"); });
  $("transfer").addEventListener("click", function () {
    var v = $("transfer-to").value || "", i = v.indexOf(":");
    if (i < 0) return;
    var kind = v.slice(0, i), target = v.slice(i + 1);
    act("/transfer", kind === "agent" ? { agent_id: target } : { group: target });
  });
  $("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = $("reply").value;
    if (!text.trim() || !open) return;
    sending += 1;
    var id = "a-" + Date.now().toString(36) + "-" + sending;
    $("reply").value = "";
    act("/messages", { text: text, client_msg_id: id });
  });
  $("reply").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $("send").click(); }
  });
  var cannedTimer = null;
  $("canned-q").addEventListener("input", function () {
    clearTimeout(cannedTimer);
    cannedTimer = setTimeout(function () {
      api("GET", "/canned-replies?q=" + encodeURIComponent($("canned-q").value)).then(function (c) {
        var box = $("canned-list"); box.textContent = "";
        c.replies.slice(0, 8).forEach(function (r) {
          var b = el("button", "", r.title); b.type = "button"; b.title = r.text;
          b.addEventListener("click", function () { $("reply").value = r.text; $("reply").focus(); });
          box.appendChild(b);
        });
      }).catch(showError);
    }, 150);
  });

  api("GET", "/me").then(signedIn, function () { signedOut(); });
})();
