// drydock web UI: the live parts. Data from images is attacker-controlled:
// it is only ever written with textContent and setAttribute on elements
// built here, never parsed as HTML. The API token lives in sessionStorage
// (this tab only) and is sent as Authorization: Bearer; it is never put
// into the page.
"use strict";
(function () {
  var KEY = "drydock.token";
  function token() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function headers(extra) {
    var h = extra || {};
    var t = token();
    if (t) { h["Authorization"] = "Bearer " + t; }
    return h;
  }
  function say(msg) {
    var s = document.getElementById("action-status");
    if (s) { s.textContent = msg; }
  }
  function showTokenState() {
    var st = document.getElementById("token-state");
    if (st) { st.textContent = token() ? "token set for this tab" : "no token: actions disabled"; }
  }

  function initToken() {
    var form = document.getElementById("token-form");
    if (!form) { return; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = document.getElementById("token");
      try { sessionStorage.setItem(KEY, input.value.trim()); } catch (e) { /* storage off: nothing kept */ }
      input.value = "";
      showTokenState();
    });
    document.getElementById("token-clear").addEventListener("click", function () {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
      showTokenState();
    });
    showTokenState();
  }

  function post(path, body, done) {
    if (!token()) { say("Enter an API token above to " + done + "."); return; }
    fetch(path, { method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body), credentials: "omit" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (r.ok) { say("Queued: " + done + "."); } else { say("Refused (" + r.status + "): " + (j.error || r.statusText)); }
        });
      })
      .catch(function (e) { say("Request failed: " + e); });
  }

  function initActions() {
    var buttons = document.querySelectorAll("button[data-action]");
    Array.prototype.forEach.call(buttons, function (b) {
      b.addEventListener("click", function () {
        if (b.dataset.action === "rescan") {
          post("/api/v1/scan", { ref: b.dataset.ref }, "rescan " + b.dataset.ref);
        } else if (b.dataset.action === "rebuild") {
          post("/api/v1/rebuild", { digest: b.dataset.digest }, "rebuild of " + b.dataset.digest);
        }
      });
    });
  }

  function shortDigest(d) { d = d.replace(/^sha256:/, ""); return d.slice(0, 12); }
  function fmtTime(s) {
    var d = new Date(s);
    return isNaN(d) ? "" : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }
  function cell(tr, text, href) {
    var td = document.createElement("td");
    if (href && text) {
      var a = document.createElement("a");
      a.setAttribute("href", href);
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text || "";
    }
    tr.appendChild(td);
    return td;
  }

  // The activity table follows GET /api/v1/events/stream (Server-Sent
  // Events); when the browser has no EventSource or the stream keeps
  // failing, it falls back to polling GET /api/v1/events.
  function initActivity() {
    var body = document.getElementById("events-body");
    if (!body) { return; }
    var kind = document.getElementById("events").dataset.kind || "";
    var state = document.getElementById("live-state");
    function setState(mode, text) {
      if (!state) { return; }
      state.dataset.mode = mode;
      state.textContent = text;
    }
    function newest() {
      var first = body.querySelector("tr[data-id]");
      return first ? Number(first.dataset.id) : 0;
    }
    function add(e) {
      if (!e || typeof e.id !== "number" || e.id <= newest()) { return; }
      if (kind && e.kind !== kind) { return; }
      var tr = document.createElement("tr");
      tr.dataset.id = String(e.id);
      tr.className = "new";
      cell(tr, fmtTime(e.at));
      cell(tr, e.kind + (e.role ? " (" + e.role + ")" : ""));
      cell(tr, e.digest ? shortDigest(e.digest) : "", e.digest ? "/images/" + encodeURIComponent(e.digest) : "");
      cell(tr, e.vulnerability || "", e.vulnerability ? "/vulnerabilities/" + encodeURIComponent(e.vulnerability) : "");
      cell(tr, e.workload || "");
      cell(tr, e.detail || "").className = "clip";
      body.insertBefore(tr, body.firstChild);
      while (body.rows.length > 500) { body.deleteRow(body.rows.length - 1); }
    }
    function poll() {
      var url = "/api/v1/events?limit=100" + (kind ? "&kind=" + encodeURIComponent(kind) : "");
      fetch(url, { headers: headers(), credentials: "omit" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (j) {
          var evs = j.events || [];
          for (var i = evs.length - 1; i >= 0; i--) { add(evs[i]); }
          setState("polling", "live (polling), updated " + new Date().toLocaleTimeString());
        })
        .catch(function (e) { setState("polling", "paused: " + e.message); })
        .then(function () { setTimeout(poll, 2000); });
    }
    var polling = false;
    function fallback() {
      if (polling) { return; }
      polling = true;
      setState("polling", "live (polling)");
      poll();
    }
    if (typeof window.EventSource !== "function") { fallback(); return; }
    var q = "after=" + newest() + (kind ? "&kind=" + encodeURIComponent(kind) : "");
    var es = new EventSource("/api/v1/events/stream?" + q);
    var failures = 0;
    es.onopen = function () { failures = 0; setState("stream", "live"); };
    es.onmessage = function (m) {
      failures = 0;
      try { add(JSON.parse(m.data)); } catch (e) { /* a malformed event is skipped */ }
    };
    es.onerror = function () {
      // EventSource reconnects by itself (with Last-Event-ID); after
      // repeated failures, or once it gives up, poll instead.
      failures++;
      if (es.readyState === EventSource.CLOSED || failures >= 3) {
        es.close();
        fallback();
      } else {
        setState("stream", "reconnecting…");
      }
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    initToken();
    initActions();
    initActivity();
  });
})();
