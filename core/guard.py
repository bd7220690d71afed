"""First stage of the pipeline: size limits, binary rejection, secret/PII redaction, injection signals.

Redaction protects the log and any remote backend; the local triage still sees the text as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import PromptError

DEFAULT_MAX_CHARS = 200_000

_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private_key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)),
    ("api_key", re.compile(r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b")),
    ("bearer_token", re.compile(r"(?i)\b(?:bearer|authorization:)\s+[A-Za-z0-9._~+/=-]{20,}")),
    ("password", re.compile(r"(?i)\b(password|passwd|pwd|secret)\s*[:=]\s*['\"]?[^\s'\"]{4,}")),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
)
_INJECTION = re.compile(
    r"(?i)\b(?:ignore (?:all |any )?(?:the )?(?:previous|prior|above) (?:instructions|prompts?)|disregard (?:your|the) (?:instructions|system prompt)|"
    r"you are now (?:dan|in developer mode)|reveal (?:your|the) system prompt|print your instructions)\b"
)


@dataclass(slots=True)
class GuardResult:
    text: str
    redacted: str
    diagnostics: list[str] = field(default_factory=list)


def check_prompt(prompt: object, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Return the prompt as text or raise PromptError with a message naming the problem."""
    if isinstance(prompt, bytes):
        try:
            prompt = prompt.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PromptError(f"prompt is not valid UTF-8 text (bad byte at position {exc.start})") from None
    if not isinstance(prompt, str):
        raise PromptError(f"prompt must be a string, got {type(prompt).__name__}")
    if not prompt.strip():
        raise PromptError("prompt is empty")
    if len(prompt) > max_chars:
        raise PromptError(f"prompt is {len(prompt):,} characters; the limit is {max_chars:,}")
    sample = prompt[:4096]
    control = sum(1 for ch in sample if ch == "\x00" or (ord(ch) < 32 and ch not in "\n\r\t\f\v"))
    if "\x00" in sample or control > max(8, len(sample) // 20):
        raise PromptError("prompt looks like binary data, not text")
    return prompt


def redact(text: str) -> tuple[str, list[str]]:
    """Replace secrets and personal data with [REDACTED:kind]; return the text and the kinds found."""
    kinds = []
    for kind, pattern in _SECRET_PATTERNS:
        text, count = pattern.subn(f"[REDACTED:{kind}]", text)
        if count:
            kinds.append(kind)
    return text, kinds


def guard(prompt: object, max_chars: int = DEFAULT_MAX_CHARS) -> GuardResult:
    text = check_prompt(prompt, max_chars)
    redacted, kinds = redact(text)
    diagnostics = [f"guard.redacted.{kind}" for kind in kinds]
    if _INJECTION.search(text):
        diagnostics.append("guard.prompt_injection_signal")
    return GuardResult(text=text, redacted=redacted, diagnostics=diagnostics)
