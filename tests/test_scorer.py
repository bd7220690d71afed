from __future__ import annotations

import math

from devroute.core.catalog import load_catalog
from devroute.core.schema import Complexity, Intent, Route, Triage
from devroute.core.scorer import Scorer, ability, fit_offsets


def triage(complexity="medium", intent="debug", route="medium_api", probs=None) -> Triage:
    return Triage(rewrite="x", intent=Intent(intent), complexity=Complexity(complexity), route=Route(route), missing=[],
                  probabilities={"complexity": probs} if probs else {})


def by_id():
    return {c.id: c for c in load_catalog()}


def test_anchor_reproduces_the_published_rate():
    c = by_id()["claude-haiku-4.5"]
    assert math.isclose(1 / (1 + math.exp(-ability(c))), c.ability.swe_bench / 100, rel_tol=1e-9)


def test_more_able_model_scores_higher_and_harder_tasks_score_lower():
    scorer, models = Scorer(), by_id()
    easy, hard = triage("low", route="small_local"), triage("high", route="large_api")
    for t in (easy, hard):
        assert scorer.p_success(models["claude-opus-4.7"], t, []) > scorer.p_success(models["qwen2.5-coder-7b"], t, [])
    for model in models.values():
        assert scorer.p_success(model, easy, []) > scorer.p_success(model, hard, []) > scorer.p_success(model, hard, ["risk.a", "risk.b"])


def test_complexity_uncertainty_is_averaged():
    scorer, model = Scorer(), by_id()["claude-haiku-4.5"]
    low, high = scorer.p_success(model, triage("low"), []), scorer.p_success(model, triage("high"), [])
    mixed = scorer.p_success(model, triage("low", probs={"low": 0.5, "medium": 0.0, "high": 0.5}), [])
    assert math.isclose(mixed, (low + high) / 2, rel_tol=1e-9)


def test_expected_cost_is_tokens_times_price():
    scorer, models = Scorer(), by_id()
    t = triage("medium", intent="feature")
    [scored] = scorer.score("add a flag", t, [models["gpt-5.5"]], [])
    expected = (scored.expected_input_tokens * 5.0 + scored.expected_output_tokens * 30.0) / 1e6
    assert math.isclose(scored.expected_cost_usd, round(expected, 6))
    assert scored.expected_output_tokens == 1200


def test_prompt_over_the_context_window_gets_zero_probability():
    scorer, models = Scorer(), by_id()
    [scored] = scorer.score("x" * 200_000, triage(), [models["qwen2.5-coder-7b"]], [])
    assert scored.p_success == 0.0 and "context window" in scored.verdict


def test_outcomes_move_the_offset_in_their_direction():
    failures = [("m", 0.9, False)] * 30
    successes = [("m", 0.5, True)] * 30
    assert fit_offsets(failures)["m"] < -0.5
    assert fit_offsets(successes)["m"] > 0.5
    assert abs(fit_offsets([("m", 0.5, True), ("m", 0.5, False)])["m"]) < 1e-6
