"""Template rewrite: make the goal explicit, tidy the prose, keep every fact and code block verbatim.

Code fences, inline code, paths and numbers pass through untouched; only prose whitespace and
sentence starts are normalised. Missing context becomes open questions, never invented facts.
"""

from __future__ import annotations

import re

from ..features import CODE_FENCE
from ..schema import Intent, MissingItem

GOALS: dict[Intent, str] = {
    Intent.debug: "Find the root cause of the problem below and fix it.",
    Intent.refactor: "Restructure the code below without changing its behaviour.",
    Intent.feature: "Implement the new behaviour described below.",
    Intent.explain: "Explain the following clearly; no code changes are needed.",
    Intent.documentation: "Write or improve the documentation described below.",
    Intent.boilerplate: "Generate the standard scaffolding described below.",
    Intent.architecture: "Propose a design for the system below: components, data flow and trade-offs.",
    Intent.review: "Review the code below for bugs, security issues, style and possible improvements.",
    Intent.optimize: "Make the code or query below faster or cheaper while keeping its behaviour.",
}

_SPACES = re.compile(r"[ \t]+")
_LONE_I = re.compile(r"(?<![\w`'/.-])i(?=(?:'m|'ve|'d|'ll)?(?![\w`'/.-]))")
_BLANKS = re.compile(r"\n{3,}")


def _tidy_prose(text: str) -> str:
    lines = [_SPACES.sub(" ", line).rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = _LONE_I.sub("I", text)
    return _BLANKS.sub("\n\n", text)


def tidy(prompt: str) -> str:
    """Normalise prose whitespace and capitalisation outside code fences; code stays byte-identical."""
    parts: list[str] = []
    last = 0
    for match in CODE_FENCE.finditer(prompt):
        parts.append(_tidy_prose(prompt[last : match.start()]))
        parts.append(match.group(0))
        last = match.end()
    parts.append(_tidy_prose(prompt[last:]))
    text = "".join(parts).strip()
    if text and text[0].islower() and not text.startswith(("`", "http", "./", "/")):
        first_word = text.split(None, 1)[0]
        if first_word.isalpha():
            text = text[0].upper() + text[1:]
    return text


def rewrite_prompt(prompt: str, intent: Intent, missing: list[MissingItem]) -> str:
    body = tidy(prompt)
    if intent == Intent.other:
        return body
    sections = [GOALS[intent], body]
    if missing:
        questions = "\n".join(f"- {item.text}" for item in missing)
        sections.append(f"Not stated in the request (please provide or confirm):\n{questions}")
    return "\n\n".join(sections)
