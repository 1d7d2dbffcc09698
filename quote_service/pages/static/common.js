"use strict";
// Shared helpers: the JSON API called with the session cookie and the CSRF header.
const QS = (() => {
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)qs_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  class ApiError extends Error {
    // details: the envelope's [{field, message}], naming what was refused (e.g. items[1].quantity).
    constructor(status, code, message, details) { super(message); this.status = status; this.code = code; this.details = details || []; }
  }
  // keepalive: the request outlives the page (the store releases held stock as the shopper leaves).
  async function api(method, path, body, extraHeaders, keepalive) {
    const headers = { "X-CSRF-Token": csrf(), "Accept": "application/json", ...(extraHeaders || {}) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method, headers, credentials: "same-origin", keepalive: Boolean(keepalive),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let payload = null;
    try { payload = await res.json(); } catch (_) { payload = null; }
    if (!res.ok) {
      const code = payload && payload.error ? payload.error.code : "HTTP_" + res.status;
      const message = payload && payload.message ? payload.message : res.statusText;
      if (res.status === 401) { window.location.reload(); }
      throw new ApiError(res.status, code, message, payload && payload.error ? payload.error.details : []);
    }
    return payload ? payload.data : null;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return node;
  }
  function money(amount, currency) {
    if (amount === null || amount === undefined) return "–";
    // The API already writes amounts in the currency's minor units (exact decimal strings).
    const text = typeof amount === "string" ? amount : Number(amount).toFixed(2);
    return text + (currency ? " " + currency : "");
  }
  // An exact amount with its thousands grouped ("1234567.89" → "1,234,567.89"): on the string, never
  // through a float.
  function grouped(amount) {
    const [whole, fraction] = String(amount).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = whole.slice(sign.length).replace(/\B(?=(\d{3})+$)/g, ",");
    return sign + digits + (fraction === undefined ? "" : "." + fraction);
  }
  // The names of products or price lists (`kind`: "products", "price-lists") by id, each read once
  // (GET /api/v1/{kind}/{id}) and kept for the page's life; one gone since keeps its id.
  const named = new Map();
  async function names(kind, ids) {
    if (!named.has(kind)) named.set(kind, new Map());
    const known = named.get(kind);
    const missing = [...new Set(ids)].filter(id => !known.has(id));
    await Promise.all(missing.map(async id => {
      try { known.set(id, (await api("GET", `/api/v1/${kind}/${encodeURIComponent(id)}`)).name); }
      catch (e) { if (e.status !== 404 && e.status !== 422) throw e; known.set(id, id); }
    }));
    return known;
  }
  // One way to write a moment on every page, in the browser's language and time zone: the time
  // alone today, the day and time this year, the date alone before (`exact` gives it all, for a
  // tooltip). Hours without a leading zero everywhere: "4:46 PM", never "04:46 PM".
  const HOUR_MINUTE = { hour: "numeric", minute: "2-digit" };
  function clock(value, seconds) {
    return new Date(value).toLocaleTimeString([], seconds ? { ...HOUR_MINUTE, second: "2-digit" } : HOUR_MINUTE);
  }
  function stamp(value) {
    if (value === null || value === undefined) return "–";
    const d = new Date(value), now = new Date();
    if (d.toDateString() === now.toDateString()) return clock(d);
    if (d.getFullYear() === now.getFullYear()) return d.toLocaleString([], { month: "short", day: "numeric", ...HOUR_MINUTE });
    return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
  }
  function exact(value) { return new Date(value).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" }); }
  // A calendar day ("2026-11-09", a UTC day of the API's) as "Mon, Nov 9"; the year when not this one.
  function day(date) {
    const d = new Date(date + "T00:00:00Z");
    const year = d.getUTCFullYear() === new Date().getUTCFullYear() ? {} : { year: "numeric" };
    return d.toLocaleDateString([], { weekday: "short", month: "short", day: "numeric", timeZone: "UTC", ...year });
  }
  function countdown(until) {
    const ms = new Date(until).getTime() - Date.now();
    if (ms <= 0) return "ended";
    const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, c =>
      (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16));
  }
  function fill(tbody, rows) { tbody.replaceChildren(...rows); }
  // A table cell whose whole text is also its tooltip: a "fit" table may cut it with an ellipsis.
  function cell(text, attrs) {
    const value = text === null || text === undefined ? "–" : String(text);
    return el("td", { title: value, ...(attrs || {}) }, value);
  }
  // A table body with one row saying why it is empty, spanning every column.
  function fillOr(tbody, rows, emptyText) {
    const columns = tbody.closest("table").querySelectorAll("thead th").length;
    fill(tbody, rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText))]);
  }
  // A <dl class="totals">: each term with its figure in a <div> of their own, so the grid keeps the
  // pair together in one cell at any width (bare dt/dd would each take a cell and drift apart).
  function fillTotals(dl, pairs) {
    dl.replaceChildren(...pairs.map(([term, value]) =>
      el("div", { "data-term": term }, el("dt", {}, term), el("dd", { title: String(value) }, String(value)))));
  }
  // An API refusal in one line: its words, its code, and the fields it names ("approvals must be …").
  function refusal(e) {
    const fields = (e.details || []).map(d => `${d.field} ${d.message}`).join(", ");
    return `${e.message} (${e.code})${fields ? ": " + fields : ""}`;
  }
  return { api, csrf, ApiError, refusal, el, money, grouped, names, clock, stamp, exact, day, countdown, uuid, fill, cell, fillOr, fillTotals };
})();
