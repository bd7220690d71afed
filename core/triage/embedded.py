"""The builtin (embedded) triage backend: ONNX sentence encoder + handcrafted features + trained heads.

Loads models/encoder.int8.onnx, models/tokenizer.json and models/heads.npz once; needs no
download and no network. Rewrite and missing-context strings come from the predicted labels
plus the same rules the feature backend uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendError
from ..features import PromptFeatures
from ..schema import COMPLEXITIES, INTENTS, MISSING_KINDS, ROUTES, Complexity, Intent, MissingKind, Route, Triage
from .encoder import SentenceEncoder
from .heads import Heads
from .missing import missing_items
from .base import triage_from_labels

MAX_MISSING = 3


def _distribution(names: tuple[str, ...], probs: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 4) for name, p in zip(names, probs, strict=True)}


class EmbeddedBackend:
    name = "builtin"

    def __init__(self, encoder: SentenceEncoder, heads: Heads) -> None:
        self.encoder = encoder
        self.heads = heads

    @classmethod
    def load(cls, models_dir: Path | None = None, threads: int | None = None) -> EmbeddedBackend:
        if models_dir is None:
            from devroute.models import MODELS_DIR

            models_dir = MODELS_DIR
        paths = [models_dir / "encoder.int8.onnx", models_dir / "tokenizer.json", models_dir / "heads.npz"]
        absent = [p.name for p in paths if not p.exists()]
        if absent:
            raise BackendError(
                f"builtin backend: missing model files in {models_dir}: {', '.join(absent)} "
                "(run scripts/export_encoder.py and scripts/train_heads.py, or set [triage] backend = \"features\")"
            )
        return cls(SentenceEncoder(paths[0], paths[1], threads), Heads.load(paths[2]))

    def triage(self, prompt: str, features: PromptFeatures) -> Triage:
        return self.triage_batch([prompt], [features])[0]

    def triage_batch(self, prompts: list[str], features: list[PromptFeatures]) -> list[Triage]:
        if not prompts:
            return []
        embeddings = self.encoder.embed(prompts)
        vectors = np.stack([f.vector() for f in features])
        out = self.heads.predict(embeddings, vectors, prompts)
        return [
            self._triage(prompt, feats, out.intent[i], out.complexity[i], out.route[i], out.missing[i])
            for i, (prompt, feats) in enumerate(zip(prompts, features, strict=True))
        ]

    def _triage(self, prompt: str, features: PromptFeatures, p_intent, p_complexity, p_route, p_missing) -> Triage:
        intent = Intent(INTENTS[int(np.argmax(p_intent))])
        complexity = Complexity(COMPLEXITIES[int(np.argmax(p_complexity))])
        route = Route(ROUTES[int(np.argmax(p_route))])
        kinds: list[MissingKind] = []
        if intent != Intent.other:
            above = [(float(p_missing[k]), k) for k in range(len(MISSING_KINDS)) if p_missing[k] >= self.heads.missing_thresholds[k]]
            kinds = [MissingKind(MISSING_KINDS[k]) for _, k in sorted(above, reverse=True)[:MAX_MISSING]]
        items = missing_items(kinds, features, intent)
        return triage_from_labels(
            prompt, intent, complexity, route, items, self.name,
            confidence={
                "intent": round(float(p_intent.max()), 4),
                "complexity": round(float(p_complexity.max()), 4),
                "route": round(float(p_route.max()), 4),
            },
            probabilities={
                "intent": _distribution(INTENTS, p_intent),
                "complexity": _distribution(COMPLEXITIES, p_complexity),
                "route": _distribution(ROUTES, p_route),
                "missing": _distribution(MISSING_KINDS, p_missing),
            },
        )
