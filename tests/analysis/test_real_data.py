"""The default rule pack on real reviews (../shared/data); skipped where the data are absent.

Asserts the targets on the development half of online_shopping_10_cats (the half the thresholds
were chosen on); bench/analysis.py reports the held-out half next to it."""

from __future__ import annotations

import pytest

from bench.analysis import (
    FP_TARGET,
    RECALL_TARGET,
    half_of,
    load_reviews,
    load_rules,
    plain_text,
    plain_unnegated,
    reference_vocab,
)
from monitor.analyze import MatchContext, RuleSet
from monitor.analyze.text import fold_with_breaks
from tests.conftest import shared_data

CSV = shared_data() / "online_shopping_10_cats" / "online_shopping_10_cats.csv"
pytestmark = pytest.mark.skipif(not CSV.exists(), reason=f"real data not found at {CSV}")


def test_false_alerts_and_recall_on_the_development_half() -> None:
    rows = [r for r in load_reviews(CSV) if half_of(r[2]) == 0]
    rules, prio = load_rules()
    ruleset = RuleSet(rules, prio)
    vocab = reference_vocab()
    fp = pos = ref = caught = 0
    for label, _cat, text in rows:
        folded, breaks = fold_with_breaks(text)
        alerts = bool(ruleset.evaluate(folded, MatchContext(), breaks).fired)
        if label == 1:
            pos += 1
            fp += alerts
        elif plain_unnegated(plain_text(text), vocab):
            ref += 1
            caught += alerts
    assert pos > 15000 and ref > 3000
    assert fp / pos <= FP_TARGET, f"{fp}/{pos} positive reviews alert"
    assert caught / ref >= RECALL_TARGET, f"recall {caught}/{ref}"


def test_reference_definition_is_independent_of_the_matcher() -> None:
    vocab = [("破损", []), ("假的", ["放假"])]
    assert plain_unnegated("收到就破损了", vocab)
    assert not plain_unnegated("包装没有破损", vocab)
    assert not plain_unnegated("放假的时候", vocab)
    assert plain_unnegated("担心买到假的", vocab)  # hypotheticals are in the reference on purpose
    frozen = reference_vocab()
    assert len(frozen) == 362 and ("假货", [plain_text(x) for x in frozen[0][1]]) == frozen[0]


def test_the_split_is_fixed() -> None:
    assert half_of("abc") == 0 and half_of("x") == 1  # CRC-32, not Python's salted hash
