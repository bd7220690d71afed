"""The feature-only triage backend: intent, complexity and route from handcrafted signals.

Scores are hand-set weights over `PromptFeatures`; its confidences are a softmax of those
scores, useful for ordering but not calibrated (the learned backend's are).
"""

from __future__ import annotations

import math

from ..features import PromptFeatures
from ..risk import classify_risks
from ..schema import Complexity, Intent, Triage
from .missing import missing_items, rule_missing_kinds
from .base import triage_from_labels
from .route_map import default_route

# Earlier wins a tie: the LABELING tie rules favour debug over explain and optimize over refactor.
_TIE_ORDER = [Intent.debug, Intent.optimize, Intent.review, Intent.refactor, Intent.documentation, Intent.boilerplate,
              Intent.architecture, Intent.feature, Intent.explain, Intent.other]


def _intent_scores(f: PromptFeatures) -> dict[Intent, float]:
    cues = f.intent_cues
    scores = {intent: float(cues.get(intent.value, 0)) for intent in Intent if intent != Intent.other}
    scores[Intent.debug] += 2.0 * min(f.stack_trace, 2) + 0.7 * min(f.error_lines, 3) + 0.5 * min(f.log_lines, 2)
    scores[Intent.review] += 2.0 if f.diff_lines >= 3 else 0.0
    scores[Intent.explain] += 0.5 if f.questions and not f.imperatives else 0.0
    scores[Intent.feature] += 0.3 * min(f.requirements, 3)
    scores[Intent.architecture] += 0.5 * min(f.scope_wide, 2)
    if scores[Intent.debug] and scores[Intent.optimize] and cues.get("optimize", 0) >= cues.get("debug", 0):
        scores[Intent.debug] -= 0.5
    techy = f.has_code or f.languages or f.frameworks or f.file_paths or f.has_error_output
    best = max(scores.values())
    other = 0.0
    if f.greeting or f.junk:
        other = best + 2.0
    elif best == 0 and not techy:
        other = 1.0
    elif best == 0:
        scores[Intent.feature] = 0.5
    scores[Intent.other] = other
    return scores


def _complexity(f: PromptFeatures, intent: Intent) -> Complexity:
    if intent == Intent.other:
        return Complexity.low
    points = 0.0
    points += 1.0 if f.n_words > 60 else 0.0
    points += 1.0 if f.n_words > 180 else 0.0
    points += 0.5 * min(len(f.code_blocks), 2)
    points += 1.0 * min(f.scope_wide, 2)
    points += 0.5 * min(f.requirements, 4)
    points += 0.7 * sum(1 for hits in f.risk_cues.values() if hits)
    points += 0.5 * min(len(set(f.file_paths)), 4)
    points -= 1.0 * min(f.scope_narrow, 1)
    points += {Intent.architecture: 1.5, Intent.feature: 0.5, Intent.refactor: 0.3, Intent.optimize: 0.5,
               Intent.explain: -0.5, Intent.documentation: -0.5, Intent.boilerplate: -0.7}.get(intent, 0.0)
    if intent == Intent.debug and not f.has_error_output and not f.has_code:
        points += 0.3
    if points >= 3.0:
        return Complexity.high
    if points >= 1.0:
        return Complexity.medium
    return Complexity.low


def _softmax(scores: dict, temperature: float = 1.0) -> dict[str, float]:
    top = max(scores.values())
    exps = {str(k.value if hasattr(k, "value") else k): math.exp((v - top) / temperature) for k, v in scores.items()}
    total = sum(exps.values())
    return {k: v / total for k, v in exps.items()}


class FeatureBackend:
    """Rules over handcrafted features; no model files, answers in well under a millisecond."""

    name = "features"

    def triage(self, prompt: str, features: PromptFeatures) -> Triage:
        scores = _intent_scores(features)
        intent = max(_TIE_ORDER, key=lambda i: (scores[i], -_TIE_ORDER.index(i)))
        complexity = _complexity(features, intent)

        draft = Triage(rewrite="", intent=intent, complexity=complexity, route=default_route(intent, complexity), missing=[])
        route = default_route(intent, complexity, classify_risks(features, draft))
        items = missing_items(rule_missing_kinds(features, intent, complexity), features, intent)
        intent_probs = _softmax(scores)
        return triage_from_labels(
            prompt, intent, complexity, route, items, self.name,
            confidence={"intent": round(intent_probs[intent.value], 4)},
            probabilities={"intent": intent_probs},
        )

    def triage_batch(self, prompts: list[str], features: list[PromptFeatures]) -> list[Triage]:
        return [self.triage(p, f) for p, f in zip(prompts, features, strict=True)]
