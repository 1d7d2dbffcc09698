"use strict";
// The governance page (admin): pending change requests with their diff (approve, reject) and an
// entity's audit trail, newest first (docs/pages.md, docs/governance.md).
(() => {
  const { api, el, names, stamp, exact, cell, fillOr } = QS;
  const $ = id => document.getElementById(id);
  const PAGE = 50;
  let changeCursor = null, auditCursor = null;
  let scope = { entity_type: "", entity_id: "" };

  function say(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = "message" + (kind ? " " + kind : "");
  }

  // A row's own bookkeeping (its id, version counters, who wrote it and when): not what an admin
  // changed, and the actor and time are columns of their own.
  const BOOKKEEPING = new Set(["id", "version", "cache_version", "created_at", "created_by", "updated_at", "updated_by"]);
  // Fields that name a product or a price list by id (at any depth: a promotion's
  // conditions.product_ids): shown by name, the names read once each.
  const ID_FIELDS = { product_id: "products", product_ids: "products", price_list_id: "price-lists" };
  const known = { products: new Map(), "price-lists": new Map() };

  function idsIn(value, found) {
    if (Array.isArray(value)) { for (const v of value) idsIn(v, found); }
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (ID_FIELDS[k]) found[ID_FIELDS[k]].push(...[].concat(v).filter(id => typeof id === "string"));
        else idsIn(v, found);
      }
    }
    return found;
  }

  // The names of every product and price list the rows (audit rows or change requests) name.
  async function nameAll(rows) {
    const found = { products: [], "price-lists": [] };
    for (const r of rows) {
      idsIn([r.before, r.after], found);
      if (r.entity_type === "product" && r.entity_id) found.products.push(r.entity_id);
    }
    const [products, lists] = await Promise.all([names("products", found.products), names("price-lists", found["price-lists"])]);
    known.products = products;
    known["price-lists"] = lists;
  }

  // A value with the ids it names replaced by their names (`key`: the field it is the value of).
  function named(value, key) {
    const kind = ID_FIELDS[key];
    if (kind && typeof value === "string") return known[kind].get(value) || value;
    if (Array.isArray(value)) return value.map(v => named(v, key));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, named(v, k)]));
    return value;
  }
  const shown = (key, v) => v === undefined || v === null ? "–" : typeof v === "string" ? named(v, key) : JSON.stringify(named(v, key));
  const same = (a, b) => JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);

  // The changed fields as "field: old → new", bookkeeping left out. `sent`: after holds only the
  // fields sent (a change request's PATCH body), so only those are compared; otherwise every field
  // of either side.
  function diff(before, after, sent) {
    if (after === null || after === undefined) {
      return el("ul", { class: "diff" }, el("li", {}, el("span", { class: "field" }, before ? "deleted" : "–")));
    }
    const keys = sent || !before ? Object.keys(after) : [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const items = keys.filter(k => !BOOKKEEPING.has(k) && (!before || !same(before[k], after[k]))).map(k => el("li", { "data-field": k },
      el("span", { class: "field" }, k + ":"),
      ...(before ? [el("del", {}, shown(k, before[k])), " → "] : []), el("ins", {}, shown(k, after[k]))));
    return el("ul", { class: "diff" }, ...(items.length ? items : [el("li", { class: "muted" }, "no field changed")]));
  }

  const who = actor => actor ? actor.name || actor.id : "–";
  // What an entity is called, read from its record (the newer side first); none: its id stands.
  const LABELS = {
    product: d => d.name, price_list: d => d.name, pricing_rule: d => d.name, promotion: d => d.name,
    campaign: d => d.name, flash_sale: d => d.name, api_key: d => d.name, webhook: d => d.name || d.url,
    feature_flag: d => d.key, user: d => d.username, approval_policy: d => d.entity_type,
    commission_rate: d => [d.component, d.category_id || d.seller_id || d.logistics_provider].filter(Boolean).join(" "),
    price_list_price: d => d.product_id && `${named(d.product_id, "product_id")} in ${named(d.price_list_id, "price_list_id")}`
      + (d.min_quantity > 1 ? ` from ${d.min_quantity} units` : ""),
  };
  function entityName(type, id, before, after) {
    const record = { ...(before || {}), ...(after || {}) };
    const label = LABELS[type] && LABELS[type](record);
    return label || (type === "product" && known.products.get(id)) || id;
  }
  // An entity by its name (its id in the tooltip), a button that shows its audit trail; wrapped, never cut.
  function entityCell(type, id, before, after) {
    const name = entityName(type, id, before, after);
    if (!id) return cell(`${type} ${name ? name + " (new)" : "(new)"}`);
    return el("td", { class: "wrap" }, el("button", {
      type: "button", class: "link entity", title: `${type} ${id}: show its audit trail`,
      onclick: () => trail(type, id),
    }, `${type} ${name}`));
  }

  // The API's refusal written in `box`: its words, its code, each field it names on a line of its own.
  function tell(box, e) {
    box.textContent = `${e.message} (${e.code})`;
    for (const d of e.details || []) box.append(el("span", { class: "note" }, `${d.field}: ${d.message}`));
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
      tell(box, e);
    } finally {
      button.disabled = false;
    }
  }

  // "1 of 2 approvals" (who gave them in the tooltip) where a policy asks for more than one.
  function approvalsCell(c) {
    const given = (c.approvals || []).length, needed = c.approvals_required || 1;
    const by = (c.approvals || []).map(a => a.name || a.id).join(", ");
    return cell(`${given} of ${needed} approval${needed === 1 ? "" : "s"}`, { class: "approvals", title: by ? `approved by ${by}` : "none yet" });
  }
  // What an approval did, from the request it answers: recorded (more are needed), applied, or else.
  function decided(d) {
    if (d.status === "pending") {
      const given = d.approvals.length, needed = d.approvals_required;
      return `Approval ${given} of ${needed} recorded: it applies after ${needed - given} more.`;
    }
    return d.status === "applied" ? "Change request approved and applied." : `Change request approved; it is ${d.status}.`;
  }

  function changeRow(c) {
    const refusal = el("span", { class: "refusal", role: "alert" });
    const simulation = el("span", { class: "simulation", "aria-live": "polite" });
    const decide = verb => async event => {
      const button = event.currentTarget;
      button.disabled = true;
      refusal.textContent = "";
      try {
        const d = await api("POST", `/api/v1/change-requests/${c.id}/${verb}`);
        say(verb === "reject" ? "Change request rejected." : decided(d), "ok");
        await refresh();
      } catch (e) {
        // The API's own words: the author approving (403 SELF_APPROVAL), a request no longer
        // pending or whose entity changed since (409) are said here, on the request's row.
        tell(refusal, e);
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
      entityCell(c.entity_type, c.entity_id, c.before, c.after),
      el("td", { class: "wrap" }, el("span", { class: "note" }, `${c.action} · ${c.method} ${c.path}`), diff(c.before, c.after, c.action === "update")),
      approvalsCell(c),
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
    await nameAll(page.items);
    const rows = page.items.map(changeRow);
    if (more) $("change-rows").append(...rows);
    else fillOr($("change-rows"), rows, "No change requests wait for approval.");
    changeCursor = page.next_cursor;
    $("more-changes").hidden = !changeCursor;
  }

  // The types whose entries POST /api/v1/audit/{id}/revert writes back (docs/governance.md#revert).
  const REVERTIBLE = new Set(["commission_rate", "pricing_rule", "feature_flag", "coupon", "promotion", "price_list",
    "shipping_profile", "installment_plan", "extension", "offer", "approval_policy"]);
  // Revert in one step: 200 written back now, 202 a change request that waits for approval, a
  // refusal (409 CHANGE_CONFLICT: the entity changed since) said on the entry's row.
  async function revert(a, button, outcome) {
    button.disabled = true;
    outcome.className = "outcome";
    outcome.textContent = "";
    try {
      const d = await api("POST", `/api/v1/audit/${a.id}/revert`);
      if (d.change_request_id) {
        say(`Revert of entry ${a.id} asked: change request ${d.change_request_id} waits for approval.`, "ok");
        await run(() => changes(false));
        outcome.textContent = "asked: waits for approval";
        return;
      }
      say(`Entry ${a.id} reverted: ${a.entity_type} ${entityName(a.entity_type, a.entity_id, a.before, a.after)} is as it was before it.`, "ok");
      await run(() => audit(false));
    } catch (e) {
      outcome.className = "outcome refusal";
      tell(outcome, e);
    } finally {
      button.disabled = false;
    }
  }

  function auditRow(a) {
    const outcome = el("span", { class: "outcome", role: "status" });
    const undo = REVERTIBLE.has(a.entity_type) && ["create", "update", "delete"].includes(a.action)
      ? [el("button", { type: "button", class: "secondary revert", title: "Write this entry's before back",
        onclick: event => revert(a, event.currentTarget, outcome) }, "Revert"), outcome]
      : [];
    return el("tr", { class: "audit", "data-action": a.action, "data-id": a.id },
      cell(stamp(a.at), { title: exact(a.at) }), cell(who(a.actor)), cell(a.action),
      entityCell(a.entity_type, a.entity_id, a.before, a.after), el("td", { class: "wrap" }, diff(a.before, a.after, false)),
      cell(a.request_id), el("td", { class: "wrap" }, ...undo));
  }

  // Each load of the trail is numbered: an answer that comes back after a later load was asked (the
  // page's first load answering after "Show") is dropped, so rows on screen are the latest load's.
  let auditLoads = 0;
  async function audit(more) {
    const load = ++auditLoads;
    const query = new URLSearchParams({ limit: PAGE });
    if (scope.entity_type) query.set("entity_type", scope.entity_type);
    if (scope.entity_id) query.set("entity_id", scope.entity_id);
    if (more && auditCursor) query.set("cursor", auditCursor);
    const page = await api("GET", `/api/v1/audit?${query}`);
    await nameAll(page.items);
    if (load !== auditLoads) return;
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
  // Another panel asked for a change (a policy, a flag marked permanent): the pending list shows it.
  document.addEventListener("qs:changes", () => run(() => Promise.all([changes(false), audit(false)])));
  refresh();
})();
