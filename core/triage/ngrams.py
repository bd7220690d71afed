"""Word n-gram TF-IDF features and the linear heads over them, in numpy.

The sentence embedding blurs the few words that decide a label ("race", "rename", "outage",
"README"); a linear model over word unigrams and bigrams keeps them, and its probabilities are
mixed with the embedding heads'. The transform reproduces scikit-learn's TfidfVectorizer with
lowercase=True, token_pattern r"(?u)\\b\\w\\w+\\b", ngram_range=(1, 2), sublinear_tf=True,
smooth idf and L2 normalisation, which scripts/train_heads.py fits and checks against this code.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

TOKEN = re.compile(r"(?u)\b\w\w+\b")


def ngrams(text: str) -> list[str]:
    words = TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


class NgramTfidf:
    """Vocabulary and idf weights; `transform` gives L2-normalised sublinear TF-IDF rows."""

    def __init__(self, vocabulary: list[str], idf: np.ndarray) -> None:
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(i for i in (self.index.get(g) for g in ngrams(text)) if i is not None)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.array([1.0 + math.log(c) for c in counts.values()], dtype=np.float32) * self.idf[cols]
        return cols, values / np.linalg.norm(values)

    def transform(self, texts: list[str]) -> np.ndarray:
        dense = np.zeros((len(texts), len(self.idf)), dtype=np.float32)
        for i, text in enumerate(texts):
            cols, values = self.row(text)
            dense[i, cols] = values
        return dense

    def linear(self, texts: list[str], weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """`transform(texts) @ weights + bias` without building the dense matrix."""
        out = np.tile(bias.astype(np.float32), (len(texts), 1))
        for i, text in enumerate(texts):
            cols, values = self.row(text)
            if len(cols):
                out[i] += values @ weights[cols]
        return out
