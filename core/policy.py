"""The routing policy: pick the cheapest candidate that meets the quality bar.

A candidate qualifies when its P(success) reaches `threshold` and lies within the regret bound
of the best allowed candidate: `max_regret` when a risk classifier fired, the wider
`low_risk_max_regret` otherwise. The cheapest qualifier wins (ties: higher P, then id).
The rule fired names what decided the pick:

- threshold: the cheapest candidate meeting the threshold was also within the regret bound;
- max_regret / low_risk_max_regret: a cheaper candidate met the threshold but was too far
  below the best one, so the bound in force moved the pick up;
- fallback_declined: no candidate qualified; the fallback model is used.

Boundaries are inclusive: P == threshold qualifies, and so does a gap == the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UnknownModelError
from .schema import Candidate, CandidateScore, Policy, RuleFired

EPSILON = 1e-9


@dataclass(slots=True)
class Selection:
    model: str
    rule: RuleFired
    fallback: str
    regret_bound: float
    scores: list[CandidateScore]


def allowed_candidates(policy: Policy, catalog: list[Candidate]) -> list[Candidate]:
    if not policy.allowed_models:
        return list(catalog)
    by_id = {c.id: c for c in catalog}
    unknown = [m for m in policy.allowed_models if m not in by_id]
    if unknown:
        known = ", ".join(sorted(by_id))
        raise UnknownModelError(f"allowed_models names unknown model(s): {', '.join(unknown)} (known: {known})")
    return [by_id[m] for m in dict.fromkeys(policy.allowed_models)]


def fallback_model(policy: Policy, allowed: list[Candidate]) -> str:
    ids = [c.id for c in allowed]
    if policy.fallback is None:
        if policy.allowed_models:
            return ids[0]
        return max(allowed, key=lambda c: (c.ability.swe_bench, -c.price_out)).id
    if policy.fallback not in ids:
        where = "allowed_models" if policy.allowed_models else "the catalog"
        raise UnknownModelError(f"fallback model '{policy.fallback}' is not in {where}")
    return policy.fallback


def select(scores: list[CandidateScore], policy: Policy, risk_codes: list[str], fallback: str) -> Selection:
    if not scores:
        raise UnknownModelError("no candidate models to route to")
    risky = bool(risk_codes)
    bound = policy.max_regret if risky else policy.low_risk_max_regret
    regret_rule = RuleFired.max_regret if risky else RuleFired.low_risk_max_regret
    best = max(s.p_success for s in scores)
    meets_threshold: list[CandidateScore] = []
    qualified: list[CandidateScore] = []
    marked = []
    for s in scores:
        if s.verdict:  # already excluded by the scorer (context window)
            marked.append(s)
            continue
        regret = best - s.p_success
        if s.p_success + EPSILON < policy.threshold:
            s = s.model_copy(update={"verdict": f"dropped: P {s.p_success:.3f} below threshold {policy.threshold:.3f}"})
        elif regret > bound + EPSILON:
            meets_threshold.append(s)
            s = s.model_copy(update={"verdict": f"dropped by {regret_rule.value}: {regret:.3f} below the best, bound {bound:.3f}"})
        else:
            s = s.model_copy(update={"qualified": True})
            meets_threshold.append(s)
            qualified.append(s)
        marked.append(s)

    def cheapest(group: list[CandidateScore]) -> CandidateScore:
        return min(group, key=lambda s: (s.expected_cost_usd, -s.p_success, s.model))

    if not qualified:
        chosen, rule = fallback, RuleFired.fallback_declined
    else:
        winner = cheapest(qualified)
        rule = RuleFired.threshold if cheapest(meets_threshold).model == winner.model else regret_rule
        chosen = winner.model
    final = []
    for s in marked:
        if s.model == chosen:
            verdict = "selected: fallback, no candidate qualified" if rule == RuleFired.fallback_declined else f"selected by {rule.value}: cheapest qualifying candidate"
            s = s.model_copy(update={"verdict": verdict})
        elif s.qualified:
            s = s.model_copy(update={"verdict": "qualified, but costs more than the selected model"})
        final.append(s)
    return Selection(model=chosen, rule=rule, fallback=fallback, regret_bound=bound, scores=final)
