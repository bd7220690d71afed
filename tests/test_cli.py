"""The `devroute` command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess

import pytest

DECISION_KEYS = {"id", "timestamp", "selected_model", "confidence", "rule_fired", "expected_cost_usd", "cost_saved_usd",
                 "fallback_model", "fallback_cost_usd", "diagnostics", "candidates", "triage", "policy", "latency_ms"}


def run(cmd, *args, stdin: bytes | None = None):
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, timeout=120)


def test_route_prints_a_readable_decision(devroute_cmd):
    out = run(devroute_cmd, "route", "write a FastAPI POST /items endpoint with a Pydantic model")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert text.startswith("→ ") and "P(success)" in text and "rewrite:" in text and "decision " in text


def test_route_json_is_stable_and_complete(devroute_cmd):
    out = run(devroute_cmd, "route", "--json", "--allow", "claude-haiku-4.5,claude-opus-4.7", "explain what a mutex is")
    decision = json.loads(out.stdout)
    assert set(decision) == DECISION_KEYS
    assert decision["selected_model"] in {"claude-haiku-4.5", "claude-opus-4.7"}
    assert decision["fallback_model"] == "claude-haiku-4.5"
    assert {c["model"] for c in decision["candidates"]} == {"claude-haiku-4.5", "claude-opus-4.7"}
    assert set(decision["triage"]) >= {"rewrite", "intent", "complexity", "route", "missing"}


def test_prompt_from_stdin_and_file(devroute_cmd, tmp_path):
    from_stdin = run(devroute_cmd, "triage", "--json", stdin=b"what does git rebase do?")
    assert json.loads(from_stdin.stdout)["intent"] == "explain"
    path = tmp_path / "p.txt"
    path.write_text("what does git rebase do?")
    from_file = run(devroute_cmd, "triage", "--json", "--file", str(path))
    assert json.loads(from_file.stdout)["intent"] == "explain"


def test_batch_writes_one_json_line_per_prompt(devroute_cmd, tmp_path):
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"prompt": "hi"}\n\n{"prompt": "write a Dockerfile for a Go service"}\n')
    out = run(devroute_cmd, "route", "--batch", str(batch))
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(rows) == 2 and all(set(r) == DECISION_KEYS for r in rows)
    triaged = run(devroute_cmd, "triage", "--batch", str(batch))
    assert [json.loads(line)["intent"] for line in triaged.stdout.decode().splitlines()][0] == "other"


def test_log_and_stats_reflect_routed_prompts(devroute_cmd):
    run(devroute_cmd, "route", "hi")
    run(devroute_cmd, "route", "--no-log", "hello")
    log = json.loads(run(devroute_cmd, "log", "--json").stdout)
    assert len(log) == 1 and log[0]["prompt"] == "hi"
    stats = json.loads(run(devroute_cmd, "stats", "--json").stdout)
    assert stats["count"] == 1 and stats["route_share"] == {"small_local": 1.0}
    assert "decisions          1" in run(devroute_cmd, "stats").stdout.decode()


def test_models_lists_the_catalog(devroute_cmd):
    models = json.loads(run(devroute_cmd, "models", "--json").stdout)
    assert len(models) == 12 and {"id", "price_in", "price_out", "ability"} <= set(models[0])


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["route", ""], None, "prompt is empty"),
        (["route"], b"   ", "prompt is empty"),
        (["route", "--allow", "gpt-9", "hi"], None, "unknown model(s): gpt-9"),
        (["route", "--fallback", "gpt-9", "hi"], None, "fallback model 'gpt-9'"),
        (["route", "--threshold", "3", "hi"], None, "threshold"),
        (["route", "--file", "/nonexistent/p.txt"], None, "cannot read"),
        (["route"], b"\xff\xfe\x00", "not valid UTF-8"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(devroute_cmd, args, stdin, message):
    out = run(devroute_cmd, *args, stdin=stdin)
    err = out.stderr.decode()
    assert out.returncode == 2
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_config_is_reported_by_key(devroute_cmd, write_config):
    write_config("[policy]\nmax_regret = -1\n")
    out = run(devroute_cmd, "route", "hi")
    assert out.returncode == 2 and "policy.max_regret" in out.stderr.decode() and "Traceback" not in out.stderr.decode()


def test_bad_batch_line_names_the_line(devroute_cmd, tmp_path):
    batch = tmp_path / "b.jsonl"
    batch.write_text('{"prompt": "hi"}\n{not json}\n')
    out = run(devroute_cmd, "route", "--batch", str(batch))
    assert out.returncode == 2 and "b.jsonl:2" in out.stderr.decode()
