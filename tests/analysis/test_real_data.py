"""The default rule pack on real reviews (../shared/data); skipped where the data are absent."""

from __future__ import annotations

import pytest

from bench.analysis import (
    FP_TARGET,
    RECALL_TARGET,
    load_reviews,
    load_rules,
    plain_text,
    plain_unnegated,
)
from monitor.analyze import MatchContext, RuleSet
from monitor.analyze.text import fold_with_breaks
from tests.conftest import shared_data

CSV = shared_data() / "online_shopping_10_cats" / "online_shopping_10_cats.csv"
pytestmark = pytest.mark.skipif(not CSV.exists(), reason=f"real data not found at {CSV}")


def test_false_positives_and_recall_on_online_shopping_10_cats() -> None:
    rows = load_reviews(CSV)
    rules, prio = load_rules()
    ruleset = RuleSet(rules, prio)
    vocab = [(plain_text(k), [plain_text(x) for x in r.exclude]) for r in rules for k in r.keywords]
    fp = pos = ref = caught = 0
    for label, _cat, text in rows:
        folded, breaks = fold_with_breaks(text)
        fired = bool(ruleset.evaluate(folded, MatchContext(), breaks).fired)
        if label == 1:
            pos += 1
            fp += fired
        elif plain_unnegated(plain_text(text), vocab):
            ref += 1
            caught += fired
    assert pos > 30000 and ref > 5000
    assert fp / pos <= FP_TARGET, f"{fp}/{pos} positive reviews fire a rule"
    assert caught / ref >= RECALL_TARGET, f"recall {caught}/{ref}"


def test_reference_definition_is_independent_of_the_matcher() -> None:
    vocab = [("破损", []), ("假的", ["放假"])]
    assert plain_unnegated("收到就破损了", vocab)
    assert not plain_unnegated("包装没有破损", vocab)
    assert not plain_unnegated("放假的时候", vocab)
    assert plain_unnegated("担心买到假的", vocab)  # hypotheticals are in the reference on purpose
