"""context.ab_test_group (docs/experiments.md "Forcing a variant"): a trusted caller names a variant
and every running experiment that has it serves it, marked forced."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from quote_service.pricing.flags import FeatureFlag, Rollout, Variant, pick_variant
from quote_service.pricing.quote import CustomerContext
from tests.unit.pricing.test_engine_support import NOW, flag, item, quote, request

ARMS = (Variant(key="control", weight=1, value=Decimal("1")), Variant(key="treatment", weight=1, value=Decimal("2")))


def experiment(key: str = "banner", **rollout: object) -> FeatureFlag:
    return flag(key, Decimal("0"), rollout=Rollout(variants=ARMS, **rollout))  # type: ignore[arg-type]


def customer_in(arm: str, key: str = "banner") -> str:
    """A customer id the experiment assigns to `arm`."""
    return next(c for n in range(100) if (v := pick_variant(key, c := f"c-{n}", ARMS)) and v.key == arm)


def priced(
    *flags: FeatureFlag, customer: str, group: str | None
) -> tuple[dict[str, object], dict[str, str], list[str]]:
    result = quote(
        request(item("p", 1, unit_price="10.00"), customer_id=customer),
        flags=list(flags),
        customer=CustomerContext(customer_id=customer, test_group=group),
    )
    return result.feature_flags, result.experiments, result.forced_experiments


def test_naming_a_variant_serves_it_and_marks_it_forced() -> None:
    customer = customer_in("control")

    served, experiments, forced = priced(experiment(), customer=customer, group="treatment")

    assert (served, experiments, forced) == ({"banner": Decimal("2")}, {"banner": "treatment"}, ["banner"])


def test_without_a_group_the_assignment_stands_and_nothing_is_forced() -> None:
    customer = customer_in("control")

    assert priced(experiment(), customer=customer, group=None) == ({"banner": Decimal("1")}, {"banner": "control"}, [])


def test_a_group_that_names_no_variant_is_ignored() -> None:
    customer = customer_in("control")

    assert priced(experiment(), customer=customer, group="group_a")[1:] == ({"banner": "control"}, [])


def test_naming_the_assigned_variant_still_marks_it_forced() -> None:
    customer = customer_in("treatment")

    assert priced(experiment(), customer=customer, group="treatment")[1:] == ({"banner": "treatment"}, ["banner"])


def test_every_running_experiment_with_that_variant_is_forced_in_key_order() -> None:
    customer = customer_in("control", "zeta")
    plain = flag("alpha", True)
    others = (experiment("zeta", percentage=Decimal("0")), experiment("beta"))  # zeta: nobody is in its audience

    served, experiments, forced = priced(plain, *others, customer=customer, group="treatment")

    assert list(served) == ["alpha", "beta", "zeta"]  # the audience is not asked: zeta is served too
    assert experiments == {"beta": "treatment", "zeta": "treatment"}
    assert forced == ["beta", "zeta"]


def test_only_a_running_experiment_is_forced() -> None:
    customer = customer_in("control")
    disabled = flag("off", Decimal("0"), rollout=Rollout(variants=ARMS), is_enabled=False)
    ended = experiment("ended", end_at=NOW - timedelta(days=1))
    later = experiment("later", start_at=NOW + timedelta(days=1))
    rolled_back = flag(
        "rolled", Decimal("0"), rollout=Rollout(variants=(ARMS[0], Variant(key="treatment", weight=0, value=2)))
    )

    _, experiments, forced = priced(disabled, ended, later, rolled_back, customer=customer, group="treatment")

    assert forced == []
    assert experiments == {"rolled": "control"}
