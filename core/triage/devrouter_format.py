"""What the llama-cpp and http backends share: the DevRouter request, its JSON schema, and
turning the model's reply (or a failure) into a `Triage`.

DevRouter-1.5B's card: send the raw prompt as the only user message through the model's chat
template, temperature 0; its router system prompt is baked into that template. Other instruct
models lack it, so `DEFAULT_SYSTEM_PROMPT` can be sent as a system message instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..features import PromptFeatures
from ..schema import COMPLEXITIES, INTENTS, ROUTES, DevRouterTriage, MissingItem, Triage
from .base import TriageBackend
from .missing import classify_missing_text

# core/evaluate.py counts a triage carrying a diagnostic with this prefix as schema-invalid.
FALLBACK_DIAGNOSTIC = "backend.fallback"
TRUNCATED_DIAGNOSTIC = "backend.prompt_truncated"
RETRIED_DIAGNOSTIC = "backend.reply_retried"

DEFAULT_SYSTEM_PROMPT = """\
You are DevRouter, a triage model for developer prompts. Read the user's prompt (do not answer it) \
and reply with one JSON object with exactly these fields:
"rewrite": a clearer, self-contained version of the same request; keep every fact, name and \
constraint; never invent facts.
"intent": debug, refactor, feature, explain, documentation, boilerplate, architecture, review, \
optimize, or other (greetings, chit-chat, not a software task).
"complexity": low (one small well-known step), medium (several steps, a module-sized change), or \
high (cross-cutting, multi-service, concurrency, security, data migration, real trade-offs).
"route": small_local for low, medium_api for medium, large_api for high; one step up for \
security, data-loss or production-incident prompts; small_local for other.
"missing": short strings naming context a strong engineer would ask for first (the error \
message, the code, a version, the environment, steps to reproduce, constraints); [] if nothing.
Reply with the JSON object only."""

# The grammar makes every string close; these caps are what force it to (a free string can run
# until max_tokens and leave the JSON unterminated).
MISSING_MAX_ITEMS = 4
MISSING_ITEM_MAX_CHARS = 80
REWRITE_MIN_CHARS = 80
REWRITE_MAX_CHARS = 6000
# Chars per generated token assumed when sizing the first reply. BPE vocabularies of instruct
# models average 3-4 chars per token on English and code; 2 leaves room for digits and
# punctuation. A degenerate reply ("A: A: A: ...") can still run out of tokens: then the backends
# ask once more with `tight` limits, sized at one token per char, which always fit in ASCII.
CHARS_PER_TOKEN_FLOOR = 2
TIGHT_MISSING_MAX_ITEMS = 3
TIGHT_MISSING_ITEM_MAX_CHARS = 48
TIGHT_REWRITE_MIN_CHARS = 16


@dataclass(frozen=True)
class OutputLimits:
    rewrite_chars: int
    missing_items: int
    missing_item_chars: int


def _fixed_chars(missing_items: int) -> int:
    """Keys, punctuation, the longest enum values and the one optional space the grammar allows per slot."""
    skeleton = {"rewrite": "", "intent": "documentation", "complexity": "medium", "route": "small_local",
                "missing": [""] * missing_items}
    return len(json.dumps(skeleton)) + 2 * (len(skeleton) + missing_items)


def output_limits(max_tokens: int, prompt_chars: int, tight: bool = False) -> OutputLimits:
    """String and array caps such that the longest reply fits in max_tokens."""
    if tight:
        items, item_chars = TIGHT_MISSING_MAX_ITEMS, TIGHT_MISSING_ITEM_MAX_CHARS
        budget = max_tokens - _fixed_chars(items) - items * item_chars
        return OutputLimits(max(TIGHT_REWRITE_MIN_CHARS, budget), items, item_chars)
    items, item_chars = MISSING_MAX_ITEMS, MISSING_ITEM_MAX_CHARS
    budget = CHARS_PER_TOKEN_FLOOR * max_tokens - _fixed_chars(items) - items * item_chars
    # A rewrite restates the prompt: twice its length plus a paragraph is room enough.
    wanted = 2 * prompt_chars + 200
    return OutputLimits(max(REWRITE_MIN_CHARS, min(REWRITE_MAX_CHARS, budget, wanted)), items, item_chars)


def triage_json_schema(limits: OutputLimits) -> dict[str, Any]:
    """The DevRouter output schema, fields in the card's order, every string and array bounded."""
    return {
        "type": "object",
        "properties": {
            "rewrite": {"type": "string", "minLength": 1, "maxLength": limits.rewrite_chars},
            "intent": {"type": "string", "enum": list(INTENTS)},
            "complexity": {"type": "string", "enum": list(COMPLEXITIES)},
            "route": {"type": "string", "enum": list(ROUTES)},
            "missing": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": limits.missing_item_chars},
                "maxItems": limits.missing_items,
            },
        },
        "required": ["rewrite", "intent", "complexity", "route", "missing"],
        "additionalProperties": False,
    }


def chat_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The raw prompt as the user message, after the system prompt when one is to be sent."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*messages, {"role": "user", "content": prompt}]


class OutputError(ValueError):
    """The model's reply does not parse as the DevRouter schema; the message says why, briefly."""


_FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.S)


def _json_text(text: str) -> str:
    # Servers without schema support often get a fenced or chatty reply around the object.
    stripped = text.strip()
    if stripped.startswith("{"):
        return stripped
    fenced = _FENCED.search(stripped)
    if fenced:
        return fenced.group(1)
    start, end = stripped.find("{"), stripped.rfind("}")
    return stripped[start : end + 1] if 0 <= start < end else stripped


def excerpt(text: str, limit: int = 60) -> str:
    """One line of at most `limit` chars, for diagnostics."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_output(text: str) -> DevRouterTriage:
    """Parse a model reply into the five DevRouter fields or raise OutputError."""
    if not text or not text.strip():
        raise OutputError("empty reply")
    try:
        # strict=False: llama-cpp-python's schema grammar lets raw newlines into strings.
        data = json.loads(_json_text(text), strict=False)
    except json.JSONDecodeError as exc:
        raise OutputError(f"not JSON ({exc.msg} at char {exc.pos}): {excerpt(text)!r}") from None
    if not isinstance(data, dict):
        raise OutputError(f"not a JSON object: {excerpt(text)!r}")
    for key in ("intent", "complexity", "route"):
        if isinstance(data.get(key), str):
            data[key] = data[key].strip().lower()
    missing = data.get("missing")
    if missing is None:
        data["missing"] = []
    elif isinstance(missing, list):
        seen: list[str] = []
        for item in missing:
            if isinstance(item, str) and item.strip() and item.strip() not in seen:
                seen.append(item.strip())
        data["missing"] = seen
    try:
        return DevRouterTriage.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(object)"
        raise OutputError(f"{where}: {first['msg']}") from None


def to_triage(result: DevRouterTriage, backend: str, diagnostics: list[str] | None = None) -> Triage:
    """The model's five fields plus canonical missing kinds read from its free-text missing list."""
    items = [MissingItem(kind=kind, text=text) for text in result.missing if (kind := classify_missing_text(text)) is not None]
    return Triage(
        rewrite=result.rewrite.strip(),
        intent=result.intent,
        complexity=result.complexity,
        route=result.route,
        missing=list(result.missing),
        missing_items=items,
        backend=backend,
        diagnostics=list(diagnostics or []),
    )


def fallback_triage(fallback: TriageBackend, prompt: str, features: PromptFeatures, source: str, reason: str,
                    diagnostics: list[str] | None = None) -> Triage:
    """The fallback backend's answer, with a diagnostic naming both backends and why."""
    result = fallback.triage(prompt, features)
    note = f"{FALLBACK_DIAGNOSTIC}: {source} -> {fallback.name} ({reason})"
    return result.model_copy(update={"diagnostics": [*result.diagnostics, *(diagnostics or []), note]})


def retried_note(max_tokens: int, limits: OutputLimits) -> str:
    return (f"{RETRIED_DIAGNOSTIC}: the reply reached max_tokens={max_tokens} before the JSON closed; "
            f"asked again with the rewrite capped at {limits.rewrite_chars} chars")


def seconds(value: float) -> str:
    """20.0 -> '20s', 0.5 -> '0.5s': how timeouts read in diagnostics."""
    return f"{value:g}s"
