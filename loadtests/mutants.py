"""Money mutants: a scripted set of hand-made mutants of the money after the quote, and a runner that tells
which the tests kill (docs/development.md#money-mutants).

Each mutant is one edit of the code (`Mutant`: a file, a text found in it exactly once, its replacement) and the
tests that should see it (`suites`, cheapest first). `run` copies the tree (its tracked files and those git
does not ignore) into a scratch folder once, checks that every suite passes there unmutated (a suite failing
already would "kill" every mutant), then for each mutant applies it, runs its suites in order until one fails
(killed) or all pass (survived), and puts the file back:

    .venv/bin/python loadtests/mutants.py check              # every original text is still in its file, once
    .venv/bin/python loadtests/mutants.py run                # every mutant; a table, and the kill rate
    .venv/bin/python loadtests/mutants.py run --only edit-once-fee-tax --show

The tests run on the real PostgreSQL and Redis the test suite uses (each pytest session makes its own
database), with the quick Hypothesis profile. A survivor is either killed by a new test or named in
`EQUIVALENT` with why no test can see it; tests/tooling/test_mutants.py keeps every mutant pointing at code that
exists, so a refactor that moves the code must move its mutant too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# --- the suites: pytest arguments, each run as one session -------------------------------------------------

# The money's unit tests take seconds: each mutant's suites start with those of its file.
SETTLED = (
    "tests/unit/pricing/test_settlement.py tests/unit/orders/test_refund_math.py tests/unit/orders/test_order_money.py"
)
RECORD = "tests/unit/orders"
BALANCED = "tests/unit/payouts/test_balance.py"
LANDED = "tests/unit/offers/test_best_landed.py"
EDITS = (
    "tests/integration/order_edits/test_edit_seller_totals.py tests/integration/order_edits/test_edit_ledger.py "
    "tests/integration/order_edits/test_edit_fees.py tests/integration/order_edits/test_money_due.py"
)
"""The edits' money (the first module, under a commission tax, named fees and a logistics commission, first)."""
REFUNDS = (
    "tests/integration/orders/test_refunds_api.py tests/integration/shipping/test_shipping_orders.py "
    "tests/integration/orders/test_order_record.py "
    "--deselect=tests/integration/orders/test_refunds_api.py::test_racing_refunds_for_the_last_units_exactly_one_wins"
)
"""(The race of 30 refunds over a served process is left out: on a loaded machine it answers 503s, and it races
locks, not money.)"""
BOOKS = (
    "tests/integration/statements/test_discount_funders.py tests/integration/statements/test_gross_refunds.py "
    "tests/integration/statements/test_seller_statements.py"
)
PAYOUTS = "tests/integration/payouts/test_payouts_api.py tests/integration/payouts/test_payout_invariant.py"
PREVIEW = "tests/integration/sellers/test_payout_preview.py"
PROPERTIES = (
    "tests/integration/order_edits/test_edit_properties.py tests/integration/statements/test_everything_returned.py "
    "tests/integration/statements/test_ledger_properties.py"
)
INSTALLMENTS = "tests/integration/installments"

SETTLEMENT = "quote_service/pricing/settlement.py"
MONEY = "quote_service/orders/money.py"
EDIT_MONEY = "quote_service/pricing/once_fees.py"
BASIS = "quote_service/order_edits/basis.py"
COMMIT = "quote_service/order_edits/commit.py"
REFUND_MATH = "quote_service/orders/refund_math.py"
PREVIEW_PY = "quote_service/payouts/preview.py"
BALANCE = "quote_service/payouts/balance.py"
STATEMENTS = "quote_service/statements/service.py"
STATEMENT_SQL = "quote_service/statements/repository.py"
SHIPPING_FEE = "quote_service/pricing/shipping.py"  # the one shipping-option fee: shipments and the offers' landing


@dataclass(frozen=True)
class Mutant:
    """Replace `original` (found exactly once in `file`) by `replacement`; `suites` should fail."""

    name: str
    file: str
    original: str
    replacement: str
    suites: tuple[str, ...]


MUTANTS = (
    # pricing/settlement.py: the one payout formula, line commission, commission tax, goods, prorate
    Mutant("payout-commission-tax-sign", SETTLEMENT, "platform - commission - commission_tax + delivery",
           "platform - commission + commission_tax + delivery", (SETTLED, BOOKS)),
    Mutant("payout-no-delivery", SETTLEMENT, "platform - commission - commission_tax + delivery",
           "platform - commission - commission_tax", (SETTLED, BOOKS)),
    Mutant("payout-no-platform", SETTLEMENT, "return goods + tax + platform - commission",
           "return goods + tax - commission", (SETTLED, BOOKS)),
    Mutant("line-commission-no-installment", SETTLEMENT, "return category + seller + installment + fees",
           "return category + seller + fees", (SETTLED, INSTALLMENTS)),
    Mutant("line-commission-no-fees", SETTLEMENT, "return category + seller + installment + fees",
           "return category + seller + installment", (SETTLED, EDITS)),
    Mutant("commission-tax-per-mille", SETTLEMENT, "(commission * percent / 100)", "(commission * percent / 1000)",
           (SETTLED, BOOKS)),
    Mutant("commission-tax-rounded-down", SETTLEMENT, ".quantize(cent, ROUND_HALF_UP)\n\n\ndef goods",
           ".quantize(cent)\n\n\ndef goods", (SETTLED, BOOKS, PREVIEW)),
    Mutant("goods-keep-contained-tax", SETTLEMENT, "return amount - discount - (tax if inclusive else ZERO)",
           "return amount - discount", (SETTLED, BOOKS)),
    Mutant("seller-payout-before-discount", SETTLEMENT, "goods=totals.goods - totals.discount",
           "goods=totals.goods", (SETTLED, EDITS)),
    Mutant("prorate-remainder-to-first", SETTLEMENT, "for index in reversed(range(len(shares))):",
           "for index in range(len(shares)):", (SETTLED,)),
    Mutant("prorate-past-the-amount", SETTLEMENT, "        share = min(share, amount - given)\n", "",
           (SETTLED,)),
    Mutant("units-share-last-units", SETTLEMENT, "if done_units + units >= quantity:",
           "if done_units + units > quantity:", (SETTLED, REFUNDS)),
    Mutant("units-share-past-what-is-left", SETTLEMENT, "return min(take, left) if left >= ZERO else max(take, left)",
           "return take", (SETTLED, REFUNDS)),
    # orders/money.py: the record and the calculator
    Mutant("line-paid-without-tax", MONEY, "return self.goods + self.part(\"tax\")", "return self.goods",
           (RECORD, EDITS)),
    Mutant("fees-total-no-small-basket", MONEY, "return self.delivery + self.small_basket + sum(",
           "return self.delivery + sum(", (RECORD, EDITS)),
    Mutant("fees-commission-no-order-logistics", MONEY, "return self.logistics + sum((logistics",
           "return sum((logistics", (RECORD, EDITS, REFUNDS)),
    Mutant("order-commission-no-once-fees", MONEY, "return lines + self.fees.commission + self.fees.once_commission",
           "return lines + self.fees.commission", (RECORD, EDITS)),
    Mutant("entry-platform-sign", MONEY, "self.platform += sign * line.part(\"platform\")",
           "self.platform -= sign * line.part(\"platform\")", (RECORD, BOOKS)),
    Mutant("entry-line-commission-tax-dropped", MONEY, "self.commission_tax += sign * line.part(\"commission_tax\")",
           "self.commission_tax += 0 * line.part(\"commission_tax\")", (RECORD, BOOKS)),
    Mutant("entry-shipment-logistics-dropped", MONEY, "self.commission += sign * logistics",
           "self.commission += 0 * logistics", (RECORD, REFUNDS, EDITS)),
    Mutant("entry-shipment-fee-dropped", MONEY, "self.delivery += sign * fee", "self.delivery += 0 * fee",
           (RECORD, REFUNDS, EDITS)),
    Mutant("entry-once-fee-tax-dropped", MONEY, "self.commission_tax += sign * charged.tax",
           "self.commission_tax += 0 * charged.tax", (RECORD, EDITS, PREVIEW)),
    Mutant("change-removed-added", MONEY, "entry(line.seller_id).add_line(line, -1)",
           "entry(line.seller_id).add_line(line, 1)", (RECORD, EDITS)),
    Mutant("ledger-refund-lines-only", MONEY,
           'if kind == "refund":\n        return [s for s in made.sellers if s.seller_id is not None]',
           'if kind == "refund":\n        return [s for s in made.sellers if s.seller_id is not None and s.has_lines]',
           (RECORD, REFUNDS, BOOKS)),
    Mutant("refund-tax-counted-collected", MONEY, "return ZERO, -entry.tax", "return ZERO, entry.tax",
           (RECORD, BOOKS)),
    Mutant("commission-tax-base-no-named-fees", MONEY,
           "settlement.line_commission(category, seller, ZERO, sum(named.values(), ZERO)), commission_tax_rate",
           "settlement.line_commission(category, seller, ZERO, ZERO), commission_tax_rate", (RECORD, PREVIEW, EDITS)),
    Mutant("record-order-logistics-dropped", MONEY, "logistics=quote.commission_breakdown.logistics_commission,",
           "logistics=ZERO,", (RECORD, REFUNDS, BOOKS)),
    Mutant("record-installment-commission-dropped", MONEY,
           'extras["installment_commission"] = line.installment_commission',
           'extras["installment_commission"] = ZERO', (RECORD, INSTALLMENTS)),
    # order_edits/: what an edit keeps and waives
    Mutant("edit-once-fee-tax", EDIT_MONEY, "commission_tax=seller.commission_tax + tax,",
           "commission_tax=seller.commission_tax,", (EDITS,)),
    Mutant("edit-once-fee-tax-moved", EDIT_MONEY, "taxed.get(fee.seller_id, ZERO) + sign * fee.tax",
           "taxed.get(fee.seller_id, ZERO)", (EDITS,)),
    Mutant("edit-once-fee-commission-total", EDIT_MONEY, "total_commission=breakdown.total_commission + change,",
           "total_commission=breakdown.total_commission,", (EDITS,)),
    Mutant("edit-waived-keeps-logistics", EDIT_MONEY, "commission=totals.commission - logistics)",
           "commission=totals.commission)", (EDITS,)),
    Mutant("edit-keeps-a-gone-sellers-shipment-fee", EDIT_MONEY,
           'fee.per == "order" or fee.seller_id in sellers', 'fee.per in ("order", "shipment")', (EDITS,)),
    Mutant("edit-small-basket-charged-again", EDIT_MONEY,
           "small = quote.small_basket_fee if sellers is None else zero", "small = zero", (EDITS,)),
    Mutant("edit-left-counts-refunded-shipment", BASIS, 'if s["refund_id"] is None and not refunded',
           "if not refunded", (EDITS,)),
    Mutant("edit-left-counts-refunded-logistics", BASIS,
           'logistics=ZERO if refunded else order["logistics_commission"]',
           'logistics=order["logistics_commission"]', (EDITS, PROPERTIES)),
    Mutant("edit-refund-logistics", COMMIT, '"logistics_commission": was.commission - now.commission,',
           '"logistics_commission": ZERO,', (EDITS,)),
    # orders/refund_math.py: a refund's take
    Mutant("refund-fees-twice", REFUND_MATH, "give = include and not already_refunded", "give = include",
           (RECORD, REFUNDS)),
    Mutant("refund-shipment-given-again", REFUND_MATH,
           "if not back and (include or position in named)]", "if include or position in named]",
           (RECORD, REFUNDS)),
    Mutant("refund-small-basket-again", REFUND_MATH,
           '"small_basket_fee": small_basket_fee if include and not already_refunded else ZERO',
           '"small_basket_fee": small_basket_fee if include else ZERO', (RECORD, REFUNDS)),
    Mutant("against-due-ignored", REFUND_MATH, "reduced = due if closing else min(max(worth, ZERO), due)",
           "reduced = due if closing else ZERO", (RECORD, EDITS)),
    # payouts/: the preview and the balance a run pays
    Mutant("preview-once-fee-tax", PREVIEW_PY, "commission_tax=entry.commission_tax.quantize(cent),",
           'commission_tax=paid.part("commission_tax").quantize(cent),', (PREVIEW,)),
    Mutant("preview-untaxed", PREVIEW_PY, "commission_tax_rate=self.quotes.defaults.commission_tax_rate)",
           "commission_tax_rate=Decimal(0))", (PREVIEW,)),
    Mutant("preview-no-logistics", PREVIEW_PY, "return sum((logistics for _, logistics in",
           "return Decimal(0) * sum((logistics for _, logistics in", (PREVIEW,)),
    Mutant("balance-negative-not-carried", BALANCE, "carried_negative=max(-net, ZERO),",
           "carried_negative=ZERO,", (BALANCED, PAYOUTS)),
    Mutant("balance-reserve-kept", BALANCE, "first = entry.payout - reserve_of(entry.payout, terms)",
           "first = entry.payout", (BALANCED, PAYOUTS)),
    # statements/: the figures read from the ledger
    Mutant("statement-net-commission", STATEMENTS, "net_sales, net_commission = gross - refunds, charged - reversed_",
           "net_sales, net_commission = gross - refunds, charged", (BOOKS,)),
    Mutant("statement-entry-no-delivery", STATEMENTS,
           'commission=money["commission"], commission_tax=money["commission_tax"], delivery=money["delivery_fees"],',
           'commission=money["commission"], commission_tax=money["commission_tax"], delivery=ZERO,', (BOOKS,)),
    Mutant("statement-edit-growth-as-refund", STATEMENT_SQL,
           "FILTER (WHERE kind = 'order' OR (kind = 'edit' AND goods > 0)), 0) AS gross",
           "FILTER (WHERE kind = 'order'), 0) AS gross", (BOOKS, EDITS, PROPERTIES)),
    # pricing/offers.py: an offer's landed fee
    Mutant("offer-landed-free-above", SHIPPING_FEE, "goods >= self.free_above:", "goods > self.free_above:", (LANDED,)),
)  # fmt: skip

EQUIVALENT: dict[str, str] = {
    "preview-no-logistics": "a preview's one-line quote names no logistics provider, and a logistics rate applies "
    "only to a quote naming its provider (pricing/commission.py): a preview's logistics commission is always 0",
}
"""Mutants no test can see, by name, with why (they still run: one killed since is flagged)."""


def check(root: Path = ROOT) -> list[str]:
    """What is wrong with the table against the code at `root`: an original not found exactly once, a name or
    an equivalence naming no mutant."""
    problems = []
    names = [m.name for m in MUTANTS]
    problems += [f"{name}: named twice" for name in sorted({n for n in names if names.count(n) > 1})]
    for mutant in MUTANTS:
        found = (root / mutant.file).read_text().count(mutant.original)
        if found != 1:
            problems.append(f"{mutant.name}: its original text is in {mutant.file} {found} times, not once")
        if mutant.original == mutant.replacement:
            problems.append(f"{mutant.name}: its replacement changes nothing")
    problems += [f"{name}: EQUIVALENT names no mutant" for name in EQUIVALENT if name not in names]
    return problems


def scratch_copy(root: Path) -> Path:
    """The tree's tracked files and those git does not ignore, copied into a new temporary folder."""
    git = ["git", "ls-files", "-co", "--exclude-standard", "-z"]
    listed = subprocess.run(git, cwd=root, capture_output=True, check=True).stdout.decode()  # noqa: S603
    target = Path(tempfile.mkdtemp(prefix="money-mutants-"))
    for name in filter(None, listed.split("\0")):
        source = root / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def pytest_run(tree: Path, suite: str, show: bool) -> tuple[bool, float, str]:
    """(passed, seconds, the tail of its output) of one suite in `tree`, its code first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree), "QS_HYPOTHESIS_PROFILE": "quick"}
    command = [sys.executable, "-m", "pytest", *suite.split(), "-q", "-x", "-p", "no:randomly", "-p",
               "no:cacheprovider"]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
    if show:
        print(tail, flush=True)
    return done.returncode == 0, time.monotonic() - started, tail


def run(names: list[str] | None, show: bool, baseline: bool, trusted: frozenset[str] = frozenset()) -> int:
    problems = check()
    if problems:
        print("\n".join(problems))
        return 2
    chosen = [m for m in MUTANTS if not names or m.name in names]
    tree = scratch_copy(ROOT)
    try:
        where = subprocess.run([sys.executable, "-c", "import quote_service; print(quote_service.__file__)"],
                               cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
        assert where.startswith(str(tree)), f"the scratch copy's package is not the one imported: {where}"
        if baseline:
            for suite in sorted({s for m in chosen for s in m.suites} - trusted):
                passed, seconds, tail = pytest_run(tree, suite, show)
                print(f"baseline {'passes' if passed else 'FAILS'} in {seconds:.0f} s: {suite}", flush=True)
                if not passed:
                    print(tail)
                    return 2
        killed = 0
        started = time.monotonic()
        for mutant in chosen:
            path = tree / mutant.file
            text = path.read_text()
            path.write_text(text.replace(mutant.original, mutant.replacement))
            try:
                by = None
                seconds = 0.0
                for suite in mutant.suites:
                    passed, took, _ = pytest_run(tree, suite, show)
                    seconds += took
                    if not passed:
                        by = suite
                        break
            finally:
                path.write_text(text)
            killed += by is not None
            verdict = "killed" if by is not None else "SURVIVED"
            if mutant.name in EQUIVALENT:
                verdict += f" (equivalent: {EQUIVALENT[mutant.name]})"
            print(f"{mutant.name:45} {verdict:9} {seconds:5.0f} s  {mutant.file}  by {by or '-'}", flush=True)
        rate = 100 * killed / len(chosen) if chosen else 0.0
        print(f"{killed} of {len(chosen)} mutants killed ({rate:.1f} %) in {time.monotonic() - started:.0f} s")
        return 0 if killed == len(chosen) else 1
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="every mutant's original text is in its file exactly once")
    runner = commands.add_parser("run", help="apply each mutant in a scratch copy and run its suites")
    runner.add_argument("--only", nargs="*", help="these mutants (by name)")
    runner.add_argument("--show", action="store_true", help="print each pytest run's last lines")
    runner.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the suites")
    runner.add_argument("--trust", nargs="*", default=[], help="suites (as in the table) known to pass: no baseline")
    args = parser.parse_args()
    if args.command == "check":
        problems = check()
        print("\n".join(problems) or f"{len(MUTANTS)} mutants, each original text found once")
        return 1 if problems else 0
    return run(args.only, args.show, not args.no_baseline, frozenset(args.trust))


if __name__ == "__main__":
    sys.exit(main())
