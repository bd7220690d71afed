"""Cost-aware scorer: a calibrated P(success) and an expected cost for every candidate.

The success model is item-response style (a one-parameter logistic, Rasch, model):

    P(success | model m, task t) = sigmoid(a * (theta_m - b_t))

- theta_m, the model's ability, is the logit of its public SWE-bench Verified rate (or the
  catalog's SWE-bench-equivalent estimate). With a = 1 and b_t = 0 the model succeeds at exactly
  its published rate: b = 0 is "an average SWE-bench Verified issue", a high-complexity fix in a
  real repository, which anchors the scale to public data.
- b_t, the task's difficulty on that scale, adds an offset per complexity, per route tier, per
  intent and per fired risk. When the triage gives a distribution over complexity, P is the
  mixture sum_c p(c) * sigmoid(a * (theta_m - b_c)): uncertainty about the task is averaged, not
  ignored, which keeps the probabilities calibrated under label noise.
- The offsets are priors until outcomes are recorded; `fit_offsets` re-fits the per-model
  offsets on the user's own recorded outcomes (record_outcome), which calibrates to their work.

Expected tokens: the prompt's own tokens plus the context an agent typically attaches at that
complexity, and an output length by intent and complexity. Cost = tokens x catalog price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .schema import Candidate, CandidateScore, Complexity, Intent, Route, Triage

DISCRIMINATION = 1.0
COMPLEXITY_DIFFICULTY = {Complexity.low: -2.5, Complexity.medium: -1.0, Complexity.high: 0.3}
ROUTE_DIFFICULTY = {Route.small_local: -0.3, Route.medium_api: 0.0, Route.large_api: 0.4}
INTENT_DIFFICULTY = {
    Intent.other: -3.0, Intent.documentation: -0.5, Intent.boilerplate: -0.5, Intent.explain: -0.3,
    Intent.architecture: 0.3, Intent.debug: 0.0, Intent.refactor: 0.0, Intent.feature: 0.0, Intent.review: 0.0,
    Intent.optimize: 0.1,
}
RISK_DIFFICULTY = 0.25
CONTEXT_TOKENS = {Complexity.low: 1_000, Complexity.medium: 4_000, Complexity.high: 12_000}
OUTPUT_TOKENS = {
    Intent.other: 80, Intent.explain: 400, Intent.documentation: 700, Intent.debug: 700, Intent.review: 800,
    Intent.boilerplate: 800, Intent.optimize: 900, Intent.refactor: 1_200, Intent.feature: 1_200, Intent.architecture: 1_500,
}
OUTPUT_SCALE = {Complexity.low: 0.6, Complexity.medium: 1.0, Complexity.high: 2.0}
CHARS_PER_TOKEN = 3.8


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def ability(candidate: Candidate) -> float:
    rate = min(max(candidate.ability.swe_bench / 100.0, 0.005), 0.995)
    return math.log(rate / (1.0 - rate))


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


@dataclass(slots=True)
class Scorer:
    """Scores candidates for one triaged prompt. `model_offsets` come from recorded outcomes."""

    model_offsets: dict[str, float] = field(default_factory=dict)

    def difficulties(self, triage: Triage, risk_codes: list[str]) -> dict[Complexity, float]:
        shared = ROUTE_DIFFICULTY[triage.route] + INTENT_DIFFICULTY[triage.intent] + RISK_DIFFICULTY * min(len(risk_codes), 2)
        return {c: COMPLEXITY_DIFFICULTY[c] + shared for c in Complexity}

    def complexity_weights(self, triage: Triage) -> dict[Complexity, float]:
        probs = triage.probabilities.get("complexity")
        if not probs:
            return {triage.complexity: 1.0}
        total = sum(probs.values()) or 1.0
        return {Complexity(k): v / total for k, v in probs.items()}

    def p_success(self, candidate: Candidate, triage: Triage, risk_codes: list[str]) -> float:
        theta = ability(candidate) + self.model_offsets.get(candidate.id, 0.0)
        difficulty = self.difficulties(triage, risk_codes)
        weights = self.complexity_weights(triage)
        return sum(w * _sigmoid(DISCRIMINATION * (theta - difficulty[c])) for c, w in weights.items())

    def expected_tokens(self, prompt: str, triage: Triage) -> tuple[int, int]:
        input_tokens = estimate_tokens(prompt) + CONTEXT_TOKENS[triage.complexity]
        output_tokens = round(OUTPUT_TOKENS[triage.intent] * OUTPUT_SCALE[triage.complexity])
        return input_tokens, output_tokens

    def score(self, prompt: str, triage: Triage, candidates: list[Candidate], risk_codes: list[str]) -> list[CandidateScore]:
        input_tokens, output_tokens = self.expected_tokens(prompt, triage)
        scores = []
        for candidate in candidates:
            fits = input_tokens + output_tokens <= candidate.context_window
            p = self.p_success(candidate, triage, risk_codes) if fits else 0.0
            cost = (input_tokens * candidate.price_in + output_tokens * candidate.price_out) / 1_000_000
            scores.append(
                CandidateScore(
                    model=candidate.id,
                    p_success=round(p, 4),
                    expected_input_tokens=input_tokens,
                    expected_output_tokens=output_tokens,
                    expected_cost_usd=round(cost, 6),
                    verdict="" if fits else "context window too small for the expected input",
                )
            )
        return scores


def fit_offsets(outcomes: list[tuple[str, float, bool]], prior_strength: float = 5.0, steps: int = 25) -> dict[str, float]:
    """Per-model logit offsets from (model, predicted p, success) outcomes.

    Maximises the Bernoulli likelihood of sigmoid(logit(p) + offset) with a Gaussian prior
    (strength = pseudo-observations) that keeps the offset near 0 until evidence accumulates.
    """
    by_model: dict[str, list[tuple[float, bool]]] = {}
    for model, p, success in outcomes:
        p = min(max(p, 1e-4), 1 - 1e-4)
        by_model.setdefault(model, []).append((math.log(p / (1 - p)), success))
    offsets = {}
    for model, rows in by_model.items():
        delta = 0.0
        for _ in range(steps):  # Newton's method on a concave, one-dimensional objective
            grad = -prior_strength * 0.25 * delta
            hess = -prior_strength * 0.25
            for logit, success in rows:
                q = _sigmoid(logit + delta)
                grad += float(success) - q
                hess -= q * (1 - q)
            delta -= grad / hess
        offsets[model] = round(delta, 4)
    return offsets
