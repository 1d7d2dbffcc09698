"use strict";
// The governance page's webhook subscriptions: each one's state (active, or disabled and why),
// its latest deliveries (Retry on a failed one), and Test, Replay since and Re-enable.
// docs/pages.md#the-governance-page, docs/webhooks.md#a-receiver-that-was-down.
(() => {
  const { api, el, stamp, exact, cell, fillOr, refusal } = QS;
  const $ = id => document.getElementById(id);
  const LATEST = 5;

  function say(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = "message" + (kind ? " " + kind : "");
  }

  // A button whose click runs `work`, its outcome (or the API's refusal) written in `box`.
  function action(label, cls, box, work, title) {
    return el("button", { type: "button", class: cls, title, onclick: async event => {
      const button = event.currentTarget;
      button.disabled = true;
      box.className = "outcome";
      box.textContent = "";
      try {
        box.textContent = await work();
      } catch (e) {
        box.className = "outcome refusal";
        box.textContent = refusal(e);
      } finally {
        button.disabled = false;
      }
    } }, label);
  }

  function state(h) {
    if (h.is_active) {
      return el("td", { class: "wrap" }, el("span", { class: "state active" }, "active"),
        h.failing_since ? el("span", { class: "note" }, `failing since ${stamp(h.failing_since)}`) : "");
    }
    return el("td", { class: "wrap" }, el("span", { class: "state disabled" }, h.disabled_at ? "disabled" : "inactive"),
      el("span", { class: "note reason" }, h.disabled_reason || "made inactive by an admin"));
  }

  // A delivery, newest first; Retry's outcome is said in the subscription's `box` (the list is read again).
  function deliveryItem(h, d, reload, box) {
    const answer = d.last_status_code ? `HTTP ${d.last_status_code}` : d.last_error || "";
    return el("li", { class: `delivery ${d.status}`, "data-status": d.status, title: `${d.id} · ${exact(d.created_at)}` },
      `${d.type} · ${d.status} · ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}${answer ? " · " + answer : ""} · ${stamp(d.created_at)} `,
      d.status === "pending" ? "" : action("Retry", "secondary small retry", box, async () => {
        await api("POST", `/api/v1/webhooks/${h.id}/deliveries/${d.id}/retry`);
        await reload();
        return `Delivery ${d.id} (${d.type}) sent again`;
      }, "Send it again with a fresh count of attempts"));
  }

  function hookRow(h) {
    const box = el("span", { class: "outcome", role: "status" });
    const list = el("ul", { class: "deliveries" });
    const since = el("input", { type: "datetime-local", class: "since", "aria-label": `Replay since (${h.url})` });
    const day = new Date(Date.now() - 86400e3);
    since.value = new Date(day.getTime() - day.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
    async function latest() {
      const query = new URLSearchParams({ limit: LATEST });
      if ($("failed-only").checked) query.set("status", "failed");
      const page = await api("GET", `/api/v1/webhooks/${h.id}/deliveries?${query}`);
      const none = $("failed-only").checked ? "no failed deliveries" : "no deliveries";
      list.replaceChildren(...(page.items.length ? page.items.map(d => deliveryItem(h, d, latest, box)) : [el("li", { class: "muted" }, none)]));
    }
    const row = el("tr", { class: "webhook", id: `webhook-${h.id}`, "data-active": String(h.is_active) },
      el("td", { class: "wrap" }, el("span", { class: "url" }, h.url),
        el("span", { class: "note" }, [h.description, h.events.join(", ")].filter(Boolean).join(" · "))),
      state(h),
      el("td", { class: "wrap" }, list),
      el("td", { class: "wrap actions" },
        action("Test", "secondary test", box, async () => {
          const t = await api("POST", `/api/v1/webhooks/${h.id}/test`);
          return t.status_code === null ? `Test ping: no answer (${t.error})`
            : `Test ping: the receiver answered ${t.status_code}${t.delivered ? "" : " (not a 2xx)"} in ${t.duration_ms} ms`;
        }, "Send a webhook.test ping now"),
        h.is_active ? "" : action("Re-enable", "re-enable", box, async () => {
          const d = await api("PATCH", `/api/v1/webhooks/${h.id}`, { is_active: true });
          if (d && d.change_request_id) return `asked: change request ${d.change_request_id} waits for approval`;
          say(`Subscription ${h.url} is active again.`, "ok");
          document.dispatchEvent(new Event("qs:changes"));  // the audit trail shows the change
          await hooks();
          return "";
        }, "Make it active again: its pending deliveries are sent"),
        el("span", { class: "replay" }, since,
          action("Replay", "secondary replay", box, async () => {
            if (!since.value) throw new QS.ApiError(0, "VALIDATION_FAILED", "Pick a time to replay from", []);
            const r = await api("POST", `/api/v1/webhooks/${h.id}/replay`, { since: new Date(since.value).toISOString() });
            await latest();
            return `Replayed ${r.replayed} event${r.replayed === 1 ? "" : "s"}, ${r.already_pending} already pending`
              + (r.is_active ? "" : "; they wait until it is re-enabled");
          }, "Send again every event since this time, under its original webhook-id")),
        box));
    return [row, latest];
  }

  async function hooks() {
    const page = await api("GET", "/api/v1/webhooks?limit=50");
    const made = page.items.map(hookRow);
    fillOr($("webhook-rows"), made.map(([row]) => row), "No webhook subscriptions.");
    await Promise.all(made.map(([, latest]) => latest()));
  }

  async function load() {
    try { await hooks(); } catch (e) { say(refusal(e), "error"); }
  }
  $("refresh-webhooks").addEventListener("click", load);
  $("failed-only").addEventListener("change", load);
  $("refresh").addEventListener("click", load);
  load();
})();
