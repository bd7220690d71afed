"""The triage backend interface: every backend turns a prompt into the same pydantic Triage."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..features import PromptFeatures
from ..schema import Complexity, Intent, MissingItem, Route, Triage
from .rewrite import rewrite_prompt


@runtime_checkable
class TriageBackend(Protocol):
    """A triage backend. `features` are computed once by the caller on the whole prompt."""

    name: str

    def triage(self, prompt: str, features: PromptFeatures) -> Triage: ...

    def triage_batch(self, prompts: list[str], features: list[PromptFeatures]) -> list[Triage]: ...


def triage_from_labels(
    prompt: str, intent: Intent, complexity: Complexity, route: Route, items: list[MissingItem], backend: str,
    confidence: dict[str, float], probabilities: dict[str, dict[str, float]],
) -> Triage:
    """The Triage a local backend returns once it has its labels: the rewrite and missing list follow from them."""
    return Triage(
        rewrite=rewrite_prompt(prompt, intent, items),
        intent=intent,
        complexity=complexity,
        route=route,
        missing=[item.text for item in items],
        missing_items=items,
        confidence=confidence,
        probabilities=probabilities,
        backend=backend,
    )
