"""Every way of evaluating a flag answers the shared table of documented cases (tests/fixtures/flag_evaluations.json).

The evaluate endpoint's path (`FlagSet.evaluate`), the quote engine's path (`evaluate_compiled`
over the snapshot's compiled flags) and the reference engine's evaluator written from the docs.
The same table is asked over HTTP in tests/integration/flags/test_feature_flags_api.py.
"""

from __future__ import annotations

import pytest

from quote_service.pricing.flags import FlagSet, evaluate_compiled
from tests.flag_cases import FlagCase, load
from tests.unit.pricing.reference_engine.flags import served

TABLE = load()
ALL_FLAGS = FlagSet.of(TABLE.flag(body["key"]) for body in TABLE.flags)


def _name(case: FlagCase) -> str:
    given = [*case.context.values(), *(str(value) for value in case.attributes.values())]
    return f"{case.flag}-{'-'.join(given) or 'nobody'}-{case.expect['reason']}"


@pytest.mark.parametrize("case", TABLE.cases, ids=_name)
def test_the_evaluate_path_answers_the_table(case: FlagCase) -> None:
    assert ALL_FLAGS.evaluate(case.flag, case.evaluation_context(), case.now or TABLE.now) == case.expected()


@pytest.mark.parametrize("case", TABLE.cases, ids=_name)
def test_the_quote_path_answers_the_table(case: FlagCase) -> None:
    flags = FlagSet.of([TABLE.flag(case.flag)])

    feature_flags, experiments = evaluate_compiled(flags.compiled, case.evaluation_context(), case.now or TABLE.now)

    expected = case.expected()
    assert feature_flags == ({case.flag: expected.value} if expected.enabled else {})
    assert experiments == ({case.flag: expected.variant} if expected.variant is not None else {})


@pytest.mark.parametrize("case", TABLE.cases, ids=_name)
def test_the_reference_evaluator_answers_the_table(case: FlagCase) -> None:
    context = case.evaluation_context()

    answer = served(
        TABLE.flag(case.flag),
        user_id=context.user_id,
        segment=context.user_segment,
        city=context.city or "",
        country=context.country or "",
        now=case.now or TABLE.now,
        attributes=case.all_attributes(),
    )

    expected = case.expected()
    assert answer == (expected.enabled, expected.value, expected.variant)


def test_the_table_covers_every_reason() -> None:
    assert {case.expect["reason"] for case in TABLE.cases} == {
        "DISABLED",
        "TARGETING_MATCH",
        "SPLIT",
        "DEFAULT",
        "ERROR",
    }
