"""`devroute hook claude-code`, Claude Code's UserPromptSubmit hook, run as the real command.

What it adds to a prompt (checked against the decision it logged and the core's own triage),
which prompts it leaves alone, and that it never gets in the way: bad input, a broken config,
bad arguments or a stall all end with nothing on stdout and exit status 0. The pure pieces
(the Claude-only policy, when a rewrite is worth showing) are tested on the shipped catalog.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from devroute.core.catalog import load_catalog
from devroute.core.config import CatalogSettings, load_settings
from devroute.core.hook import (
    claude_code_policy,
    format_context,
    rewrite_differs_materially,
    subagent_for,
    worth_triaging,
)
from devroute.core.router import Router
from devroute.core.schema import Complexity, Decision, Intent, MissingItem, MissingKind, Policy, Route, RuleFired, Triage
from devroute.core.triage.rewrite import rewrite_prompt

HOOK = [sys.executable, "-m", "devroute.cli.main", "hook", "claude-code"]
VAGUE = "It sometimes returns wrong results in my Django view, fix it"
OPTIMIZE = "Optimize this query"


def run_hook(payload: object, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return subprocess.run([*HOOK, *args], input=data, capture_output=True, timeout=timeout)


def event(prompt: str, **extra: str) -> dict:
    return {"session_id": "s-1", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp", "hook_event_name": "UserPromptSubmit", "prompt": prompt, **extra}


def note_of(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert set(output) == {"hookSpecificOutput"}  # no "decision": the hook never blocks a prompt
    return output["hookSpecificOutput"]["additionalContext"]


# -- the note -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", [VAGUE, OPTIMIZE])
def test_the_note_names_the_logged_decision_and_the_missing_context(prompt: str) -> None:
    note = note_of(run_hook(event(prompt)))
    router = Router(load_settings())
    decision_id = re.search(r"^devroute decision ([0-9a-f]{32}): pass it to record_outcome", note, re.M).group(1)
    decision = router.get_decision(decision_id)  # the hook logged what it recommended
    triage = decision.triage

    assert note.splitlines()[0] == (
        f"devroute (local prompt triage, advisory): {triage.intent.value} task, complexity {triage.complexity.value}, route tier {triage.route.value}."
    )
    assert f"Recommended Claude model: {decision.selected_model} (P(success) {decision.confidence:.2f}" in note
    assert f"the {subagent_for(decision.selected_model)} subagent" in note
    # Claude Code can only delegate to Claude models: the hook routed among them alone.
    assert decision.selected_model.startswith("claude-")
    assert all(model.startswith("claude-") for model in decision.policy.allowed_models)
    # Every missing piece the core finds is in the note, on the ask or the look-up line.
    assert triage.missing_items == router.triage(prompt).missing_items and triage.missing_items
    lines = note.splitlines()
    ask = next((line for line in lines if "worth asking the user" in line), "")
    look_up = next((line for line in lines if "look it up in the repository" in line), "")
    for item in triage.missing_items:
        line = look_up if item.kind in (MissingKind.code, MissingKind.versions, MissingKind.target) else ask
        assert item.text in line, (item, note)


@pytest.mark.parametrize(
    "payload",
    [
        event("yes"),
        event("go on"),
        event("/triage Fix the flaky upload test in tests/test_api.py"),
        event(VAGUE, hook_event_name="PreToolUse"),
    ],
    ids=["short-reply", "two-words", "slash-command", "other-event"],
)
def test_prompts_that_are_not_tasks_get_no_note(payload: dict) -> None:
    result = run_hook(payload)
    assert result.returncode == 0 and result.stdout == b"", result.stderr


# -- never in the way ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b'{"no_prompt": 1}', json.dumps(event("word " * 50_000)).encode(), b"\xff\xfe\x00binary"],
    ids=["empty", "not-json", "no-prompt", "too-large", "binary"],
)
def test_bad_input_prints_nothing_and_exits_0(payload: bytes) -> None:
    result = run_hook(payload)
    assert result.returncode == 0
    assert result.stdout == b""
    assert result.stderr.startswith(b"devroute hook: no note, ")


def test_with_the_log_disabled_the_note_offers_no_decision_id(write_config) -> None:
    write_config("[log]\nenabled = false\n")
    note = note_of(run_hook(event(VAGUE)))
    assert "Recommended Claude model: " in note
    assert "record_outcome" not in note


def test_a_broken_config_prints_nothing_and_exits_0(write_config) -> None:
    write_config("[policy]\nthreshold = 3\n")
    result = run_hook(event(VAGUE))
    assert result.returncode == 0 and result.stdout == b""
    assert b"threshold" in result.stderr


def test_a_bad_argument_exits_0_not_2_which_would_block_the_prompt() -> None:
    result = run_hook(event(VAGUE), "--budget", "soon")
    assert result.returncode == 0 and result.stdout == b""
    assert result.stderr.startswith(b"devroute hook: argument --budget: invalid float value")


def test_an_unknown_option_is_ignored_and_the_note_still_comes() -> None:
    result = run_hook(event(VAGUE), "--no-such-flag")
    assert result.stderr.startswith(b"devroute hook: ignoring unrecognized arguments: --no-such-flag")
    assert note_of(result).startswith("devroute (local prompt triage, advisory): ")


def test_past_its_budget_the_hook_gives_up_silently_and_exits_0() -> None:
    # Claude Code always closes stdin; this caller never does, so the hook's work cannot finish.
    process = subprocess.Popen([*HOOK, "--budget", "0.5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        process.stdin.write(json.dumps(event(VAGUE))[:20].encode())
        process.stdin.flush()
        try:
            returncode = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the hook kept running past its budget")
        stdout, stderr = process.stdout.read(), process.stderr.read()
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()
    assert returncode == 0
    assert stdout == b""
    assert stderr == b"devroute hook: no note, triage took longer than 0.5 s\n"


# -- the pure pieces -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CatalogSettings())


def test_the_claude_code_policy_routes_among_claude_models_most_able_first(catalog) -> None:
    policy = claude_code_policy(Policy(), catalog)
    claude = {c.id: c for c in catalog if c.provider == "anthropic"}
    assert set(policy.allowed_models) == set(claude)
    abilities = [claude[m].ability.swe_bench for m in policy.allowed_models]
    assert abilities == sorted(abilities, reverse=True)
    assert policy.fallback is None  # so the first (most able) entry is the fallback


def test_the_users_allow_list_and_claude_fallback_still_apply(catalog) -> None:
    mixed = Policy(allowed_models=["gpt-5.5", "claude-haiku-4.5", "claude-sonnet-4.6"], fallback="claude-haiku-4.5", threshold=0.8)
    policy = claude_code_policy(mixed, catalog)
    assert set(policy.allowed_models) == {"claude-haiku-4.5", "claude-sonnet-4.6"}
    assert policy.fallback == "claude-haiku-4.5" and policy.threshold == 0.8
    no_claude = Policy(allowed_models=["gpt-5.5", "deepseek-v4-pro"])
    assert claude_code_policy(no_claude, catalog) == no_claude


def test_without_a_claude_model_the_note_says_no_subagent_runs_the_pick() -> None:
    router = Router(load_settings())
    policy = claude_code_policy(Policy(allowed_models=["gpt-5.5", "deepseek-v4-pro"]), router.catalog)
    decision = router.route(VAGUE, policy, log=False)
    note = format_context(VAGUE, decision)
    assert f"Recommended model: {decision.selected_model} " in note
    assert "no devroute subagent runs it" in note
    assert subagent_for(decision.selected_model) is None


@pytest.mark.parametrize(("model", "subagent"), [("claude-haiku-4.5", "devroute-haiku"), ("claude-opus-4.7", "devroute-opus"),
                                                 ("claude-sonnet-5", "devroute-sonnet"), ("gpt-5.5", None), ("deepseek-v4-pro", None)])
def test_subagent_by_model_family(model: str, subagent: str | None) -> None:
    assert subagent_for(model) == subagent


@pytest.mark.parametrize(("prompt", "worth"), [("yes", False), ("do it now", True), ("/triage fix it please", False), ("  ", False)])
def test_which_prompts_are_worth_a_note(prompt: str, worth: bool) -> None:
    assert worth_triaging(prompt) is worth


def triage_with_rewrite(rewrite: str, intent: Intent = Intent.debug, missing: list[MissingItem] | None = None) -> Triage:
    return Triage(rewrite=rewrite, intent=intent, complexity=Complexity.medium, route=Route.medium_api,
                  missing=[m.text for m in missing or []], missing_items=missing or [])


def test_a_rewrite_that_only_frames_the_prompt_is_not_shown() -> None:
    missing = [MissingItem(kind=MissingKind.error_output, text="the full error message or stack trace")]
    framed = rewrite_prompt("my  flask app  returns 500 on upload, i need it fixed", Intent.debug, missing)
    assert not rewrite_differs_materially("my  flask app  returns 500 on upload, i need it fixed", triage_with_rewrite(framed, missing=missing))


def decision_with(triage: Triage) -> Decision:
    return Decision(
        id="d" * 32, timestamp=datetime.now(UTC), selected_model="claude-sonnet-4.6", confidence=0.9, rule_fired=RuleFired.threshold,
        expected_cost_usd=0.01, cost_saved_usd=0.0, fallback_model="claude-opus-4.7", fallback_cost_usd=0.02, candidates=[],
        triage=triage, policy=Policy(), latency_ms=1.0,
    )


def test_a_rewrite_that_restates_the_request_is_shown() -> None:
    prompt = "upload thing broken again?? 500s everywhere since friday, pls look"
    restated = "Find why POST /upload has returned HTTP 500 since Friday and fix it. Include the server log of a failing request."
    triage = triage_with_rewrite(restated)
    assert rewrite_differs_materially(prompt, triage)
    assert format_context(prompt, decision_with(triage)).endswith("Clearer statement of the request:\n" + restated)


def test_small_talk_gets_no_note_unless_context_is_missing() -> None:
    prompt = "thanks, that all looks good to me now"
    assert format_context(prompt, decision_with(triage_with_rewrite(prompt, Intent.other))) is None
    missing = [MissingItem(kind=MissingKind.acceptance, text="acceptance criteria (what done means, which tests)")]
    note = format_context(prompt, decision_with(triage_with_rewrite(prompt, Intent.other, missing)))
    assert note is not None and "acceptance criteria (what done means, which tests)." in note


def test_a_bad_global_option_before_hook_also_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devroute.cli.main", "--backend", "bogus", "hook", "claude-code"],
        input=json.dumps(event(VAGUE)).encode(), capture_output=True, timeout=60,
    )
    assert result.returncode == 0 and result.stdout == b""
    assert result.stderr.startswith(b"devroute hook: argument --backend: invalid choice: 'bogus'")


def test_the_word_hook_inside_another_command_keeps_that_commands_strict_arguments() -> None:
    result = subprocess.run([sys.executable, "-m", "devroute.cli.main", "route", "hook", "--no-log", "--bogus-flag"],
                            capture_output=True, timeout=60)
    assert result.returncode == 2 and result.stdout == b""
    assert b"unrecognized arguments: --bogus-flag" in result.stderr
