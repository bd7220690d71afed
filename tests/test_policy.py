"""Policy rules at their boundaries: threshold, max_regret, low_risk_max_regret, fallback_declined, ties."""

from __future__ import annotations

import pytest

from devroute.core.catalog import load_catalog
from devroute.core.errors import UnknownModelError
from devroute.core.policy import allowed_candidates, fallback_model, select
from devroute.core.schema import CandidateScore, Policy, RuleFired

RISK = ["risk.security_sensitive"]


def score(model: str, p: float, cost: float) -> CandidateScore:
    return CandidateScore(model=model, p_success=p, expected_input_tokens=100, expected_output_tokens=100, expected_cost_usd=cost)


def pick(scores, policy=None, risks=(), fallback="big"):
    return select(scores, policy or Policy(threshold=0.7, max_regret=0.15, low_risk_max_regret=0.30), list(risks), fallback)


def test_threshold_is_inclusive_at_the_boundary():
    result = pick([score("cheap", 0.70, 0.001), score("big", 0.80, 0.02)])
    assert (result.model, result.rule) == ("cheap", RuleFired.threshold)


def test_just_below_threshold_is_dropped():
    result = pick([score("cheap", 0.6999, 0.001), score("big", 0.80, 0.02)])
    assert (result.model, result.rule) == ("big", RuleFired.threshold)
    cheap = next(s for s in result.scores if s.model == "cheap")
    assert not cheap.qualified and "below threshold" in cheap.verdict


def test_max_regret_boundary_when_a_risk_fires():
    at_bound = pick([score("cheap", 0.75, 0.001), score("big", 0.90, 0.02)], risks=RISK)
    assert (at_bound.model, at_bound.rule) == ("cheap", RuleFired.threshold)
    past_bound = pick([score("cheap", 0.7499, 0.001), score("big", 0.90, 0.02)], risks=RISK)
    assert (past_bound.model, past_bound.rule) == ("big", RuleFired.max_regret)
    assert past_bound.regret_bound == 0.15


def test_low_risk_bound_is_wider_without_risk():
    no_risk = pick([score("cheap", 0.72, 0.001), score("big", 0.99, 0.02)])
    assert (no_risk.model, no_risk.rule) == ("cheap", RuleFired.threshold)
    assert no_risk.regret_bound == 0.30
    risky = pick([score("cheap", 0.72, 0.001), score("big", 0.99, 0.02)], risks=RISK)
    assert (risky.model, risky.rule) == ("big", RuleFired.max_regret)


def test_low_risk_max_regret_fires_past_its_bound():
    policy = Policy(threshold=0.6, max_regret=0.15, low_risk_max_regret=0.30)
    at_bound = pick([score("cheap", 0.70, 0.001), score("mid", 0.80, 0.005), score("big", 1.0, 0.02)], policy)
    assert (at_bound.model, at_bound.rule) == ("cheap", RuleFired.threshold)
    past = pick([score("cheap", 0.65, 0.001), score("mid", 0.80, 0.005), score("big", 1.0, 0.02)], policy)
    assert (past.model, past.rule) == ("mid", RuleFired.low_risk_max_regret)


def test_fallback_declined_when_nothing_qualifies():
    result = pick([score("cheap", 0.2, 0.001), score("big", 0.5, 0.02)], fallback="big")
    assert (result.model, result.rule) == ("big", RuleFired.fallback_declined)
    assert all(not s.qualified for s in result.scores)


def test_cost_tie_prefers_higher_probability_then_id():
    result = pick([score("b", 0.80, 0.001), score("a", 0.80, 0.001), score("c", 0.85, 0.001)])
    assert result.model == "c"
    result = pick([score("b", 0.80, 0.001), score("a", 0.80, 0.001)])
    assert result.model == "a"


def test_probability_tie_at_threshold_and_bound_together():
    result = pick([score("cheap", 0.70, 0.0), score("big", 0.85, 0.02)], risks=RISK)
    assert (result.model, result.rule) == ("cheap", RuleFired.threshold)


def test_allow_list_with_unknown_model_is_a_clear_error():
    catalog = load_catalog()
    with pytest.raises(UnknownModelError, match="unknown model.*not-a-model"):
        allowed_candidates(Policy(allowed_models=["not-a-model"]), catalog)


def test_fallback_defaults_to_first_allowed_model():
    catalog = load_catalog()
    policy = Policy(allowed_models=["claude-haiku-4.5", "claude-opus-4.7"])
    allowed = allowed_candidates(policy, catalog)
    assert [c.id for c in allowed] == ["claude-haiku-4.5", "claude-opus-4.7"]
    assert fallback_model(policy, allowed) == "claude-haiku-4.5"


def test_fallback_outside_allow_list_is_rejected():
    catalog = load_catalog()
    policy = Policy(allowed_models=["claude-haiku-4.5"], fallback="gpt-5.5")
    with pytest.raises(UnknownModelError, match="not in allowed_models"):
        fallback_model(policy, allowed_candidates(policy, catalog))
