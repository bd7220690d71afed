"""The triage backend interface: every backend turns a prompt into the same pydantic Triage."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..features import PromptFeatures
from ..schema import Triage


@runtime_checkable
class TriageBackend(Protocol):
    """A triage backend. `features` are computed once by the caller on the whole prompt."""

    name: str

    def triage(self, prompt: str, features: PromptFeatures) -> Triage: ...

    def triage_batch(self, prompts: list[str], features: list[PromptFeatures]) -> list[Triage]: ...
