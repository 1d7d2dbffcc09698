"use strict";
// The governance page's approval policies (list; set, raise or remove one: a change request) and
// the flags that may be stale (mark one permanent). docs/pages.md#the-governance-page.
(() => {
  const { api, el, stamp, exact, cell, fillOr, refusal } = QS;
  const $ = id => document.getElementById(id);

  function say(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = "message" + (kind ? " " + kind : "");
  }
    // A write that may wait for approval: 202 answers {change_request_id}; the pending list shows it.
  function asked(d, what) {
    if (d && d.change_request_id) {
      say(`${what}: change request ${d.change_request_id} waits for another admin's approval.`, "ok");
      document.dispatchEvent(new Event("qs:changes"));
      return true;
    }
    return false;
  }

  function policyRow(p) {
    const remove = async event => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const d = await api("DELETE", `/api/v1/approval-policies/${encodeURIComponent(p.entity_type)}`);
        if (!asked(d, `Removing the ${p.entity_type} policy asked`)) await policies();
      } catch (e) {
        say(refusal(e), "error");
      } finally {
        button.disabled = false;
      }
    };
    return el("tr", { class: "policy", "data-type": p.entity_type },
      cell(p.entity_type), cell(String(p.approvals), { class: "approvals" }),
      cell(p.updated_by, { title: `${p.updated_by}, ${exact(p.updated_at)}` }),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: remove }, "Remove")));
  }

  async function policies() {
    const page = await api("GET", "/api/v1/approval-policies");
    const items = Array.isArray(page) ? page : page.items;
    fillOr($("policy-rows"), items.map(policyRow), "No policies: one approval where CHANGE_APPROVAL asks for it.");
  }

  $("policy-form").addEventListener("submit", async event => {
    event.preventDefault();
    const box = $("policy-refusal");
    box.textContent = "";
    const type = $("policy-type").value, raw = $("policy-approvals").value;
    // Sent as typed (a number when it is one): the API's 422 names `approvals` when it is not 1..5.
    const approvals = /^\d+$/.test(raw) ? Number(raw) : raw;
    try {
      const d = await api("POST", "/api/v1/approval-policies", { entity_type: type, approvals });
      if (!asked(d, `A policy of ${approvals} approvals for ${type} asked`)) await policies();
    } catch (e) {
      box.textContent = refusal(e);
    }
  });

  // What a fully rolled-out flag serves everyone: its value when on, its default when off.
  const serves = f => JSON.stringify(f.is_enabled ? f.value : f.default_value);

  function flagRow(f) {
    const outcome = el("span", { class: "outcome", role: "status" });
    const mark = async event => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const d = await api("PATCH", `/api/v1/feature-flags/${f.id}`, { permanent: true });
        if (!asked(d, `Marking ${f.key} permanent asked`)) {
          say(`Flag ${f.key} marked permanent: never reported stale.`, "ok");
          document.dispatchEvent(new Event("qs:changes"));  // the list and the audit trail, read again
        }
      } catch (e) {
        outcome.className = "outcome refusal";
        outcome.textContent = refusal(e);
      } finally {
        button.disabled = false;
      }
    };
    return el("tr", { class: "flag", "data-key": f.key, "data-lifecycle": f.lifecycle },
      el("td", { class: "wrap" }, el("strong", {}, f.key), el("span", { class: "note" }, `${f.name} · ${f.lifecycle}`)),
      cell(serves(f)), cell(stamp(f.updated_at), { title: exact(f.updated_at) }),
      el("td", { class: "wrap" }, el("button", { type: "button", class: "secondary permanent", onclick: mark,
        title: "A kill switch or an operational toggle meant to stay" }, "Mark permanent"), outcome));
  }

  async function flags() {
    const page = await api("GET", "/api/v1/feature-flags?lifecycle=potentially_stale&limit=50");
    fillOr($("flag-rows"), page.items.map(flagRow), "No flag looks stale.");
  }

  async function load() {
    try { await Promise.all([policies(), flags()]); } catch (e) { say(refusal(e), "error"); }
  }
  document.addEventListener("qs:changes", load);
  $("refresh").addEventListener("click", load);
  load();
})();
