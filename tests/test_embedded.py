"""The builtin backend with the shipped ONNX encoder and heads (no mocks, real onnxruntime)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from devroute.core.features import FEATURE_DIM, extract_features
from devroute.core.schema import DevRouterTriage
from devroute.core.triage.embedded import EmbeddedBackend
from devroute.core.triage.encoder import HEAD, PARALLEL_MIN, WINDOW
from devroute.core.triage.ngrams import NgramTfidf

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backend() -> EmbeddedBackend:
    return EmbeddedBackend.load()


def triage(backend, prompt):
    return backend.triage(prompt, extract_features(prompt))


def test_distributions_are_probabilities(backend):
    t = triage(backend, "Our payment webhook double-charges customers under load; fix the race in the handler")
    for head in ("intent", "complexity", "route"):
        probs = t.probabilities[head]
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
        assert t.confidence[head] == pytest.approx(max(probs.values()), abs=1e-4)
    DevRouterTriage.model_validate(t.devrouter().model_dump())


@pytest.mark.parametrize(
    ("prompt", "intent"),
    [("hi there", "other"), ("what is the difference between a process and a thread?", "explain"),
     ("write a Dockerfile for a Node 20 app with a multi-stage build", "boilerplate")],
)
def test_clear_prompts(backend, prompt, intent):
    assert triage(backend, prompt).intent.value == intent


def test_long_prompt_keeps_head_and_tail_tokens(backend):
    encoder = backend.encoder
    prompt = "please fix the crash described at the end. " + "log line filler " * 800 + "KeyError: 'user_id' in handler.py"
    ids = encoder.token_ids(prompt)
    assert len(ids) == WINDOW
    tail = encoder.tokenizer.encode("KeyError: 'user_id' in handler.py", add_special_tokens=False).ids
    assert ids[-1 - len(tail) : -1] == tail
    head = encoder.tokenizer.encode("please fix the crash", add_special_tokens=False).ids
    assert ids[1 : 1 + len(head)] == head and HEAD > len(head)
    assert extract_features(prompt).has_error_output  # features still read the whole prompt
    DevRouterTriage.model_validate(triage(backend, prompt).devrouter().model_dump())


def test_batch_equals_single(backend):
    prompts = ["hi", "refactor this giant function into smaller ones", "Design a multi-region event pipeline"]
    batch = backend.triage_batch(prompts, [extract_features(p) for p in prompts])
    for prompt, result in zip(prompts, batch):
        single = triage(backend, prompt)
        assert single.intent == result.intent
        for head in ("intent", "complexity"):  # int8 activations are quantised per batch, so padding shifts them slightly
            a, b = single.probabilities[head], result.probabilities[head]
            assert np.allclose([a[k] for k in a], [b[k] for k in a], atol=1e-2)


def test_a_batch_shared_between_threads_embeds_each_prompt_as_alone(backend):
    prompts = [f"prompt {i}: " + "why does the worker pool deadlock " * (i % 7) for i in range(2 * PARALLEL_MIN + 3)]
    together = backend.encoder.embed(prompts)
    alone = np.concatenate([backend.encoder.embed([p]) for p in prompts])
    assert together.shape == (len(prompts), 384)
    assert np.allclose(together, alone, atol=1e-6)
    assert len({row.tobytes() for row in together}) == len(prompts)


def test_eval_command_prints_every_metric(tmp_path):
    rows = [json.loads(line) for line in (REPO / "data" / "heldout.jsonl").read_text().splitlines()[:40]]
    data = tmp_path / "sample.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    out = subprocess.run([sys.executable, "-m", "devroute.cli.main", "eval", "--data", str(data), "--json"], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 40 and report["backend"] == "builtin" and report["schema_validity"] == 1.0
    for key in ("intent_accuracy", "complexity_accuracy", "route_accuracy", "intent_macro_f1", "missing_precision",
                "missing_recall", "intent_ece", "complexity_ece", "route_ece", "per_intent_accuracy"):
        assert key in report
    assert report["fallbacks"] == 0
    for matrix, field in (("confusion", "intent"), ("complexity_confusion", "complexity"), ("route_confusion", "route")):
        assert sum(sum(row.values()) for row in report[matrix].values()) == 40
        labelled = {gold: sum(row.values()) for gold, row in report[matrix].items()}
        assert labelled == {k: sum(r[field] == k for r in rows) for k in labelled}
        correct = sum(report[matrix][k][k] for k in report[matrix])
        assert correct == round(report[f"{field}_accuracy"] * 40)
    assert report["intent_accuracy"] > 0.5


def test_shipped_heads_match_the_feature_vector_and_carry_ngram_heads(backend):
    heads = backend.heads
    assert heads.feature_dim == FEATURE_DIM
    assert heads.ngrams is not None and len(heads.ngrams.index) > 1000
    for name in ("intent", "complexity", "route"):
        assert 0.0 <= float(heads.w[f"{name}_mix"]) <= 1.0


def test_ngram_tfidf_rows_are_unit_length_sublinear_and_ignore_unknown_words():
    tfidf = NgramTfidf(["race", "race condition", "condition", "rename"], np.array([1.0, 2.0, 1.5, 3.0]))
    cols, values = tfidf.row("Race condition! race zzzz")
    weights = dict(zip(cols.tolist(), values.tolist()))
    assert set(weights) == {0, 1, 2}  # "race", "race condition", "condition"; the unknown word adds nothing
    assert np.isclose(np.linalg.norm(values), 1.0)
    raw = {0: (1 + np.log(2)) * 1.0, 1: 2.0, 2: 1.5}  # "race" twice: sublinear tf 1 + ln 2
    norm = np.sqrt(sum(v * v for v in raw.values()))
    assert all(np.isclose(weights[k], raw[k] / norm) for k in raw)
    assert tfidf.row("nothing known here")[0].size == 0
    dense = tfidf.transform(["rename it", "zzz"])
    assert np.allclose(dense, [[0, 0, 0, 1], [0, 0, 0, 0]])
    weights_matrix = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert np.allclose(tfidf.linear(["rename it", "zzz"], weights_matrix, np.array([1.0, -1.0])), dense @ weights_matrix + [1.0, -1.0])


def test_heads_without_prompts_fall_back_to_the_embedding_heads(backend):
    prompt = "rename the variable foo to bar in utils.py"
    embedding = backend.encoder.embed([prompt])
    vector = np.stack([extract_features(prompt).vector()])
    with_text = backend.heads.predict(embedding, vector, [prompt])
    without = backend.heads.predict(embedding, vector)
    for out in (with_text, without):
        assert np.isclose(out.intent.sum(), 1.0) and np.isclose(out.complexity.sum(), 1.0)
    assert not np.allclose(with_text.intent, without.intent)
