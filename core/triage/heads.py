"""Trained classification heads, run in numpy: one shared hidden layer, four outputs.

Input: the sentence embedding concatenated with the standardised handcrafted features.
Outputs: intent (softmax), complexity (softmax), route (softmax), missing kinds (independent
sigmoids). Each softmax head has a temperature fitted on the dev split (temperature scaling),
so the probabilities it reports are calibrated; each missing kind has its own calibrated
sigmoid (temperature) and a decision threshold chosen on the dev split.
Written by scripts/train_heads.py as models/heads.npz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..schema import COMPLEXITIES, INTENTS, MISSING_KINDS, ROUTES

SOFTMAX_HEADS = {"intent": INTENTS, "complexity": COMPLEXITIES, "route": ROUTES}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(slots=True)
class HeadOutputs:
    intent: np.ndarray
    complexity: np.ndarray
    route: np.ndarray
    missing: np.ndarray


class Heads:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        labels = {"intent": INTENTS, "complexity": COMPLEXITIES, "route": ROUTES, "missing": MISSING_KINDS}
        for name, names in labels.items():
            if self.w[f"{name}_W"].shape[1] != len(names):
                raise ValueError(f"heads file does not match the label set for {name}")
        self.missing_thresholds = self.w["missing_thresholds"]

    @classmethod
    def load(cls, path: Path) -> Heads:
        with np.load(path) as data:
            return cls({k: data[k] for k in data.files})

    @property
    def feature_dim(self) -> int:
        return int(self.w["feature_mean"].shape[0])

    def logits(self, embeddings: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
        scaled = (features - self.w["feature_mean"]) / self.w["feature_std"]
        x = np.concatenate([embeddings, scaled], axis=1)
        hidden = np.maximum(x @ self.w["hidden_W"] + self.w["hidden_b"], 0.0)
        return {name: hidden @ self.w[f"{name}_W"] + self.w[f"{name}_b"] for name in ("intent", "complexity", "route", "missing")}

    def predict(self, embeddings: np.ndarray, features: np.ndarray) -> HeadOutputs:
        raw = self.logits(embeddings, features)
        return HeadOutputs(
            intent=softmax(raw["intent"] / self.w["intent_T"]),
            complexity=softmax(raw["complexity"] / self.w["complexity_T"]),
            route=softmax(raw["route"] / self.w["route_T"]),
            missing=sigmoid(raw["missing"] / self.w["missing_T"]),
        )
