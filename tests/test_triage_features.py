"""Handcrafted features, the feature-only backend, missing-context rules and the template rewrite."""

from __future__ import annotations

import pytest

from devroute.core.features import FEATURE_DIM, extract_features
from devroute.core.schema import Intent, MissingKind
from devroute.core.triage.missing import classify_missing_text
from devroute.core.triage.rewrite import rewrite_prompt, tidy
from devroute.core.triage.rules import FeatureBackend

TRACE = """Traceback (most recent call last):
  File "app/main.py", line 12, in <module>
    run()
KeyError: 'user_id'"""


def test_features_see_code_traces_paths_and_greetings():
    f = extract_features(f"see src/api/routes.py and utils.ts\n```python\nx = 1\n```\n{TRACE}")
    assert len(f.code_blocks) == 1 and f.code_languages == ["python"]
    assert f.stack_trace >= 2 and f.has_error_output
    assert "src/api/routes.py" in f.file_paths
    assert extract_features("hi!").greeting
    assert extract_features("asdfgh").junk and not extract_features("fix the login bug").junk
    assert f.vector().shape == (FEATURE_DIM,)


def test_features_name_languages_frameworks_and_environment():
    f = extract_features("Django 4.2 app on Ubuntu with Postgres, written in Python")
    assert {"django", "postgres"} <= set(f.frameworks)
    assert "python" in f.languages and "ubuntu" in f.environment and f.versions


@pytest.mark.parametrize(
    ("prompt", "intent"),
    [
        ("hi", "other"),
        ("what is the difference between a process and a thread?", "explain"),
        (f"why does this crash?\n{TRACE}", "debug"),
        ("write a Dockerfile for a Node 20 app", "boilerplate"),
        ("the report query is too slow, speed it up", "optimize"),
        ("Design a multi-region event pipeline with exactly-once delivery", "architecture"),
        ("add docstrings to every public function in utils.py", "documentation"),
    ],
)
def test_feature_backend_on_clear_prompts(prompt, intent):
    t = FeatureBackend().triage(prompt, extract_features(prompt))
    assert t.intent.value == intent
    if intent == "other":
        assert (t.complexity.value, t.route.value, t.missing) == ("low", "small_local", [])


def test_debug_without_error_output_asks_for_it():
    prompt = "my upload endpoint doesn't work"
    t = FeatureBackend().triage(prompt, extract_features(prompt))
    kinds = {item.kind for item in t.missing_items}
    assert t.intent == Intent.debug and MissingKind.error_output in kinds
    assert len(t.missing) == len(t.missing_items) <= 3


def test_rewrite_keeps_every_code_block_and_fact_verbatim():
    prompt = "fix   this pls, i get KeyError on port 8080\n```python\ndef f(d):\n    return d['user_id']   # keep spacing\n```\nusing flask 2.3"
    f = extract_features(prompt)
    t = FeatureBackend().triage(prompt, f)
    assert "```python\ndef f(d):\n    return d['user_id']   # keep spacing\n```" in t.rewrite
    for fact in ("KeyError", "8080", "flask 2.3"):
        assert fact in t.rewrite
    assert t.rewrite.startswith("Find the root cause")
    assert "I get KeyError" in t.rewrite


def test_tidy_only_touches_prose():
    assert tidy("hello   world\n\n\n\nbye") == "Hello world\n\nbye"
    assert tidy("`i` stays") == "`i` stays"


def test_rewrite_lists_missing_items_as_open_questions():
    from devroute.core.schema import MissingItem

    text = rewrite_prompt("make it faster", Intent.optimize, [MissingItem(kind=MissingKind.code, text="the code in question")])
    assert text.endswith("- the code in question")


@pytest.mark.parametrize(
    ("text", "kind"),
    [("the full stack trace", "error_output"), ("Django version", "versions"), ("expected vs actual output", "expected_behavior"),
     ("target latency and traffic", "constraints"), ("the code of parse_config", "code"), ("steps to reproduce", "reproduction")],
)
def test_free_text_missing_items_map_to_kinds(text, kind):
    assert classify_missing_text(text) == MissingKind(kind)
