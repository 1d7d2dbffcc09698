"use strict";
// The governance page (admin): pending change requests with their diff (approve, reject) and an
// entity's audit trail, newest first (docs/pages.md, docs/governance.md).
(() => {
  const { api, el, stamp, exact, cell, fillOr } = QS;
  const $ = id => document.getElementById(id);
  const PAGE = 50;
  let changeCursor = null, auditCursor = null;
  let scope = { entity_type: "", entity_id: "" };

  function say(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = "message" + (kind ? " " + kind : "");
  }

  const shown = v => v === undefined || v === null ? "–" : typeof v === "string" ? v : JSON.stringify(v);
  const same = (a, b) => JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);

  // The changed fields as "field: old → new". `sent`: after holds only the fields sent (a change
  // request's PATCH body), so only those are compared; otherwise every field of either side.
  function diff(before, after, sent) {
    if (after === null || after === undefined) {
      return el("ul", { class: "diff" }, el("li", {}, el("span", { class: "field" }, before ? "deleted" : "–")));
    }
    const keys = sent || !before ? Object.keys(after) : [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const items = keys.filter(k => !before || !same(before[k], after[k])).map(k => el("li", { "data-field": k },
      el("span", { class: "field" }, k + ":"),
      ...(before ? [el("del", {}, shown(before[k])), " → "] : []), el("ins", {}, shown(after[k]))));
    return el("ul", { class: "diff" }, ...(items.length ? items : [el("li", { class: "muted" }, "no field changed")]));
  }

  const who = actor => actor ? actor.name || actor.id : "–";
  // An entity's name, a button that shows its audit trail.
  function entityCell(type, id) {
    const text = `${type} ${id || "(new)"}`;
    if (!id) return cell(text);
    return el("td", {}, el("button", {
      type: "button", class: "link entity", title: `${text}: show its audit trail`,
      onclick: () => trail(type, id),
    }, text));
  }

  // A simulation of the request (docs/governance.md "What-if simulations"), polled until it ends:
  // "12 quotes, 12 changed · TRY total +0.00, commission +4.47" (commission: category + seller).
  const POLL_MS = 300, POLLS = 200;
  const signed = n => (n >= 0 ? "+" : "") + n.toFixed(2);
  const wait = ms => new Promise(resolve => setTimeout(resolve, ms));
  function outcome(s) {
    const currencies = Object.entries(s.delta || {}).map(([currency, d]) =>
      `${currency} total ${signed(Number(d.total))}, commission ${signed(Number(d.commission.category) + Number(d.commission.seller))}`);
    return [`${s.quotes} quotes, ${s.changed_quotes} changed`, ...currencies].join(" · ");
  }
  async function simulate(c, button, box) {
    button.disabled = true;
    box.className = "simulation";
    box.textContent = "Simulating…";
    try {
      const { id } = await api("POST", "/api/v1/simulations", { change_request_id: c.id });
      box.dataset.simulation = id;
      for (let i = 0; i < POLLS; i++) {
        const s = await api("GET", `/api/v1/simulations/${id}`);
        if (s.status === "done") { box.textContent = outcome(s); return; }
        if (s.status === "failed") { box.className = "simulation failed"; box.textContent = `Simulation failed: ${s.error}`; return; }
        box.textContent = `Simulating… ${Math.round((s.progress || 0) * 100)} %`;
        await wait(POLL_MS);
      }
      box.className = "simulation failed";
      box.textContent = `Simulation ${id} still running after ${POLL_MS * POLLS / 1000} s.`;
    } catch (e) {
      box.className = "simulation failed";
      box.textContent = `${e.message} (${e.code})`;
      for (const d of e.details || []) box.append(el("span", { class: "note" }, `${d.field}: ${d.message}`));
    } finally {
      button.disabled = false;
    }
  }

  function changeRow(c) {
    const refusal = el("span", { class: "refusal", role: "alert" });
    const simulation = el("span", { class: "simulation", "aria-live": "polite" });
    const decide = verb => async event => {
      const button = event.currentTarget;
      button.disabled = true;
      refusal.textContent = "";
      try {
        await api("POST", `/api/v1/change-requests/${c.id}/${verb}`);
        say(verb === "approve" ? "Change request approved and applied." : "Change request rejected.", "ok");
        await refresh();
      } catch (e) {
        // The API's own words: the author approving (403 SELF_APPROVAL), a request no longer
        // pending or whose entity changed since (409) are said here, on the request's row.
        refusal.textContent = `${e.message} (${e.code})`;
        for (const d of e.details || []) refusal.append(el("span", { class: "note" }, `${d.field}: ${d.message}`));
        // A 409 leaves the request no longer pending: it leaves the list, its refusal stays said above.
        if (e.status === 409) {
          say(`Change request ${c.id}: ${refusal.textContent}`, "error");
          await refresh();
        }
      } finally {
        button.disabled = false;
      }
    };
    return el("tr", { class: "change", id: `change-${c.id}`, "data-id": c.id },
      cell(stamp(c.created_at), { title: exact(c.created_at) }), cell(who(c.author)),
      entityCell(c.entity_type, c.entity_id),
      el("td", { class: "wrap" }, el("span", { class: "note" }, `${c.action} · ${c.method} ${c.path}`), diff(c.before, c.after, c.action === "update")),
      el("td", { class: "wrap decision" },
        el("button", { type: "button", class: "approve", onclick: decide("approve") }, "Approve"),
        el("button", { type: "button", class: "secondary reject", onclick: decide("reject") }, "Reject"),
        el("button", { type: "button", class: "secondary simulate", title: "Price the recent quotes with this change (nothing applied)",
          onclick: event => simulate(c, event.currentTarget, simulation) }, "Simulate"),
        refusal, simulation));
  }

  async function changes(more) {
    const query = new URLSearchParams({ status: "pending", limit: PAGE });
    if (more && changeCursor) query.set("cursor", changeCursor);
    const page = await api("GET", `/api/v1/change-requests?${query}`);
    const rows = page.items.map(changeRow);
    if (more) $("change-rows").append(...rows);
    else fillOr($("change-rows"), rows, "No change requests wait for approval.");
    changeCursor = page.next_cursor;
    $("more-changes").hidden = !changeCursor;
  }

  function auditRow(a) {
    return el("tr", { class: "audit", "data-action": a.action, "data-id": a.id },
      cell(stamp(a.at), { title: exact(a.at) }), cell(who(a.actor)), cell(a.action),
      entityCell(a.entity_type, a.entity_id), el("td", { class: "wrap" }, diff(a.before, a.after, false)),
      cell(a.request_id));
  }

  async function audit(more) {
    const query = new URLSearchParams({ limit: PAGE });
    if (scope.entity_type) query.set("entity_type", scope.entity_type);
    if (scope.entity_id) query.set("entity_id", scope.entity_id);
    if (more && auditCursor) query.set("cursor", auditCursor);
    const page = await api("GET", `/api/v1/audit?${query}`);
    const rows = page.items.map(auditRow);
    if (more) $("audit-rows").append(...rows);
    else fillOr($("audit-rows"), rows, "No audit rows for this entity.");
    auditCursor = page.next_cursor;
    $("more-audit").hidden = !auditCursor;
    const what = [scope.entity_type || "any type", scope.entity_id || "any id"].join(" ");
    $("audit-scope").textContent = `Newest first: ${scope.entity_type || scope.entity_id ? what : "every entity"}.`;
  }

  async function trail(type, id) {
    scope = { entity_type: type, entity_id: id };
    $("audit-type").value = type;
    $("audit-id").value = id;
    await run(() => audit(false));
    $("panel-audit").scrollIntoView({ block: "start" });
  }

  async function run(work) {
    try {
      await work();
      $("status").textContent = `Updated ${stamp(new Date())}.`;
    } catch (e) {
      say(`${e.message}${(e.details || []).length ? ": " + e.details.map(d => `${d.field} ${d.message}`).join(", ") : ""}`, "error");
    }
  }

  async function refresh() { await run(() => Promise.all([changes(false), audit(false)])); }

  $("refresh").addEventListener("click", () => { say(""); refresh(); });
  $("more-changes").addEventListener("click", () => run(() => changes(true)));
  $("more-audit").addEventListener("click", () => run(() => audit(true)));
  $("audit-form").addEventListener("submit", event => {
    event.preventDefault();
    say("");
    scope = { entity_type: $("audit-type").value, entity_id: $("audit-id").value.trim() };
    run(() => audit(false));
  });
  $("audit-all").addEventListener("click", () => {
    scope = { entity_type: "", entity_id: "" };
    $("audit-type").value = "";
    $("audit-id").value = "";
    run(() => audit(false));
  });
  refresh();
})();
