"""Claude Code's UserPromptSubmit hook: triage the prompt, route it, and add a short note to it.

Claude Code runs `devroute hook claude-code` before each prompt reaches the model, with
`{"prompt", "session_id", "cwd", "hook_event_name", ...}` on stdin. The hook answers with
`hookSpecificOutput.additionalContext`: the context missing from the prompt that is worth
asking about, the triage's intent and route tier, the recommended Claude model with the
subagent that runs it, the decision id for record_outcome, and the rewrite when it says
something the prompt does not.

The hook is advisory and must never get in the way of a prompt: on any error, or when the
work has not finished within its time budget (about 2 s), it prints nothing and exits 0.
(Exit status 2 would make Claude Code block the prompt; other non-zero statuses show an error.)
This module imports only the schema; the Router, with its backend and model files, is loaded
inside the budget.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .integrations import SUBAGENT_FAMILIES, subagent_name
from .schema import Candidate, Decision, Intent, MissingKind, Policy, Triage

HOOK_BUDGET_S = 2.0
EVENT = "UserPromptSubmit"
# Replies such as "yes" or "go on" are follow-ups, not tasks: a routing note would be noise.
MIN_WORDS = 3
MAX_MISSING = 3
MAX_REWRITE_CHARS = 1200
# Below this word-level similarity to the prompt, a rewrite restates the request differently
# enough to be worth showing.
MATERIAL_SIMILARITY = 0.9
# Context a coding agent can find in the repository itself (the code, versions, which files);
# the rest (error output, expected behaviour, reproduction, constraints...) only the user knows.
LOOK_UP_KINDS = frozenset({MissingKind.code, MissingKind.versions, MissingKind.target})
_FAMILY = re.compile(rf"\bclaude-({'|'.join(SUBAGENT_FAMILIES)})\b")
_WORD = re.compile(r"\w+")


class HookInput(BaseModel):
    """What Claude Code sends a UserPromptSubmit hook (fields the hook does not use are ignored)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str
    hook_event_name: str = EVENT
    session_id: str | None = None
    cwd: str | None = None


def worth_triaging(prompt: str) -> bool:
    """Slash commands (`/triage` routes by itself) and short replies get no note."""
    text = prompt.strip()
    return not text.startswith("/") and len(_WORD.findall(text)) >= MIN_WORDS


def claude_family(model_id: str) -> str | None:
    match = _FAMILY.search(model_id)
    return match.group(1) if match else None


def subagent_for(model_id: str) -> str | None:
    family = claude_family(model_id)
    return subagent_name(family) if family else None


def claude_code_policy(policy: Policy, catalog: list[Candidate]) -> Policy:
    """The configured policy limited to the Claude models Claude Code can delegate to.

    The user's allow-list still applies. When it leaves no Claude model, the configured
    policy is used unchanged and the note says no subagent runs the pick. The most able
    model comes first, so it is the fallback unless the user named a Claude fallback.
    """
    claude = [c for c in catalog if claude_family(c.id)]
    if policy.allowed_models:
        claude = [c for c in claude if c.id in policy.allowed_models]
    if not claude:
        return policy
    ids = [c.id for c in sorted(claude, key=lambda c: (-c.ability.swe_bench, c.price_out))]
    fallback = policy.fallback if policy.fallback in ids else None
    return policy.model_copy(update={"allowed_models": ids, "fallback": fallback})


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def rewrite_differs_materially(prompt: str, triage: Triage) -> bool:
    """True when the rewrite restates the request itself, not just frames it.

    A rewrite that keeps the prompt word for word and only adds a goal line and open questions
    tells the agent nothing the note does not already say (intent, missing context).
    """
    prompt_words = _words(prompt)
    rewrite_words = _words(triage.rewrite)
    if not prompt_words or not rewrite_words:
        return False
    if " ".join(prompt_words) in " ".join(rewrite_words):
        return False
    similarity = difflib.SequenceMatcher(None, prompt_words, rewrite_words, autojunk=False).ratio()
    return similarity < MATERIAL_SIMILARITY


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_context(prompt: str, decision: Decision, logged: bool = True) -> str | None:
    """The note added to the prompt; None when there is nothing worth saying.

    `logged` says whether the decision is in the log, so record_outcome can find its id.
    """
    triage = decision.triage
    missing = triage.missing_items[:MAX_MISSING]
    if triage.intent == Intent.other and not missing:
        return None
    lines = [
        f"devroute (local prompt triage, advisory): {triage.intent.value} task, complexity {triage.complexity.value}, "
        f"route tier {triage.route.value}."
    ]
    model = decision.selected_model
    pick = f"{model} (P(success) {decision.confidence:.2f}, expected cost ${decision.expected_cost_usd:.4f})"
    subagent = subagent_for(model)
    if subagent:
        lines.append(f"Recommended Claude model: {pick}; delegate self-contained work to the {subagent} subagent.")
    else:
        lines.append(f"Recommended model: {pick}; no devroute subagent runs it, so do the work here.")
    if logged:
        lines.append(f"devroute decision {decision.id}: pass it to record_outcome when the task is done.")
    ask = [item.text for item in missing if item.kind not in LOOK_UP_KINDS]
    look_up = [item.text for item in missing if item.kind in LOOK_UP_KINDS]
    if ask:
        lines.append("Missing from the prompt, worth asking the user unless the conversation already says: " + "; ".join(ask) + ".")
    if look_up:
        lines.append("Missing from the prompt, look it up in the repository rather than asking: " + "; ".join(look_up) + ".")
    if rewrite_differs_materially(prompt, triage):
        lines.append("Clearer statement of the request:\n" + _clip(triage.rewrite.strip(), MAX_REWRITE_CHARS))
    return "\n".join(lines)


def hook_output(context: str) -> str:
    return json.dumps({"hookSpecificOutput": {"hookEventName": EVENT, "additionalContext": context}}, ensure_ascii=False)


def claude_code_hook(raw_input: bytes, config: Path | None = None, backend: str | None = None) -> str | None:
    """The whole hook: stdin bytes in, the JSON to print out (or None for nothing). Errors propagate."""
    request = HookInput.model_validate_json(raw_input)
    if request.hook_event_name != EVENT or not worth_triaging(request.prompt):
        return None
    from .config import load_settings
    from .router import Router

    settings = load_settings(config)
    if backend:
        settings.triage.backend = backend  # type: ignore[assignment]  # the CLI restricts the choices
    router = Router(settings)
    try:
        decision = router.route(request.prompt, claude_code_policy(router.policy, router.catalog))
        logged = router.log is not None
    finally:
        router.close()
    context = format_context(request.prompt, decision, logged)
    return hook_output(context) if context else None


@dataclass(frozen=True)
class BudgetOutcome:
    output: str | None
    finished: bool
    error: BaseException | None = None


def run_within_budget(job: Callable[[], str | None], budget_s: float = HOOK_BUDGET_S) -> BudgetOutcome:
    """Run `job` on a daemon thread and wait at most `budget_s` for it.

    A job still running when the budget is spent is abandoned (finished=False); the caller
    exits the process without waiting for it.
    """
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["output"] = job()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, which never lets it through
            result["error"] = exc

    worker = threading.Thread(target=target, name="devroute-hook", daemon=True)
    worker.start()
    worker.join(max(0.0, budget_s))
    if worker.is_alive():
        return BudgetOutcome(output=None, finished=False)
    error = result.get("error")
    return BudgetOutcome(output=result.get("output"), finished=True, error=error if isinstance(error, BaseException) else None)  # type: ignore[arg-type]
