"use strict";
// Seller payouts in words, for the books page (every seller) and the seller page (its own):
// docs/payouts.md. A balance's figures and a payout's row read the same on both.
const Payouts = (() => {
  const { api, money, stamp, exact, cell } = QS;
  const STATUS = { pending: "pending", paid: "paid", failed: "failed" };
  // What a status means, for its tooltip (with the bank's reference or the failure's reason).
  const MEANS = { pending: "made, not yet marked paid", paid: "paid", failed: "failed: its entries are available again" };
  const when = value => cell(stamp(value), { title: exact(value) });

  // A balance as label → figure pairs (a <dl class="totals">).
  function balancePairs(b) {
    return [["Available", money(b.available, b.currency)], ["Held", money(b.held, b.currency)],
      ["Reserved", money(b.reserved, b.currency)], ["Carried negative", money(b.carried_negative, b.currency)],
      ["Next payout", stamp(b.next_payout_at)]];
  }

  // One payout's cells: when it was made, (its seller,) its cycle, its entries' span, its amount, its
  // status, its entry count.
  function payoutCells(p, withSeller) {
    return [when(p.created_at), ...(withSeller ? [cell(p.seller_id)] : []), cell(p.cycle),
      cell(`${stamp(p.period_from)} → ${stamp(p.period_to)}`, { title: `${exact(p.period_from)} → ${exact(p.period_to)}` }),
      cell(money(p.amount, p.currency), { class: "num" }),
      cell(STATUS[p.status] || p.status, { class: "status", title: [MEANS[p.status], p.reference, p.failure_reason].filter(Boolean).join(": ") }),
      cell(p.entries.length, { class: "num" })];
  }

  // The newest payouts (a seller's own list, or everyone's for an admin), up to `limit`.
  async function latest(limit, sellerId) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (sellerId) query.set("seller_id", sellerId);
    return (await api("GET", `/api/v1/payouts?${query}`)).items;
  }

  async function balance(sellerId) {
    return api("GET", `/api/v1/sellers/${encodeURIComponent(sellerId)}/balance`);
  }

  return { STATUS, balancePairs, payoutCells, latest, balance };
})();
