"""Trained classification heads, run in numpy: one shared hidden layer, four outputs, plus
linear heads over word n-grams for intent, complexity and route.

Input: the sentence embedding concatenated with the standardised handcrafted features, and the
prompt's word n-gram TF-IDF vector (ngrams.py). Outputs: intent, complexity, route (softmax),
missing kinds (independent sigmoids). For each softmax head the embedding head's calibrated
probabilities are mixed with the n-gram head's (weight chosen on the dev split), and the mixture
is temperature-scaled on the dev split, so the reported probabilities are calibrated; each
missing kind has its own calibrated sigmoid (temperature) and a decision threshold chosen on
the dev split. Written by scripts/train_heads.py as models/heads.npz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..schema import COMPLEXITIES, INTENTS, MISSING_KINDS, ROUTES
from .ngrams import NgramTfidf

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


def mix_probabilities(embedding_probs: np.ndarray, ngram_probs: np.ndarray, weight: float) -> np.ndarray:
    """Linear pool of the embedding head's and the n-gram head's probabilities."""
    return (1.0 - weight) * embedding_probs + weight * ngram_probs


def log_probabilities(probs: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(probs, 1e-12))


def pack_vocabulary(terms: list[str]) -> np.ndarray:
    """The n-gram vocabulary as UTF-8 bytes, one term per line: a numpy string array would pad
    every term to the longest one (9 MB instead of a few hundred KB)."""
    if any("\n" in t for t in terms):
        raise ValueError("an n-gram term contains a newline")
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)


def unpack_vocabulary(packed: np.ndarray) -> list[str]:
    return packed.tobytes().decode("utf-8").split("\n")


class Heads:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        vocabulary = weights.get("ngram_vocab")
        self.ngrams = NgramTfidf(unpack_vocabulary(vocabulary), weights["ngram_idf"]) if vocabulary is not None else None
        self.w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items() if k != "ngram_vocab"}
        if self.ngrams is not None:
            self._ngram_W = np.concatenate([self.w[f"ngram_{name}_W"] for name in SOFTMAX_HEADS], axis=1)
            self._ngram_b = np.concatenate([self.w[f"ngram_{name}_b"] for name in SOFTMAX_HEADS])
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

    def ngram_logits(self, texts: list[str]) -> dict[str, np.ndarray]:
        """All three n-gram heads from one TF-IDF pass per prompt (their weights side by side)."""
        assert self.ngrams is not None
        joint = self.ngrams.linear(texts, self._ngram_W, self._ngram_b)
        bounds = np.cumsum([0] + [len(labels) for labels in SOFTMAX_HEADS.values()])
        return {name: joint[:, bounds[i] : bounds[i + 1]] for i, name in enumerate(SOFTMAX_HEADS)}

    def mix(self, name: str, embedding_probs: np.ndarray, ngram_logits: dict[str, np.ndarray] | None) -> np.ndarray:
        """The embedding head's probabilities mixed with the n-gram head's, then temperature-scaled."""
        if ngram_logits is None:
            return embedding_probs
        mixed = mix_probabilities(embedding_probs, softmax(ngram_logits[name]), self.w[f"{name}_mix"])
        return softmax(log_probabilities(mixed) / self.w[f"{name}_mix_T"])

    def predict(self, embeddings: np.ndarray, features: np.ndarray, texts: list[str] | None = None) -> HeadOutputs:
        """`texts` (the prompts) enable the n-gram heads; without them only the embedding heads run."""
        raw = self.logits(embeddings, features)
        ngram = self.ngram_logits(texts) if self.ngrams is not None and texts is not None else None
        return HeadOutputs(
            intent=self.mix("intent", softmax(raw["intent"] / self.w["intent_T"]), ngram),
            complexity=self.mix("complexity", softmax(raw["complexity"] / self.w["complexity_T"]), ngram),
            route=self.mix("route", softmax(raw["route"] / self.w["route_T"]), ngram),
            missing=sigmoid(raw["missing"] / self.w["missing_T"]),
        )
