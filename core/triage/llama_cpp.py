"""The llama-cpp triage backend: a local GGUF triage model run in-process with llama-cpp-python.

The GGUF is loaded once, from a local path only. Each prompt goes in as the user message through
the model's own chat template and is decoded greedily (temperature 0) under a grammar built from
the DevRouter JSON schema, every string and array capped so the JSON closes within max_tokens;
a reply that still runs out of tokens is asked for once more with tighter caps. So the reply
parses into `Triage`. A deadline stops generation after `timeout_s`; a timeout, or a reply that
cannot be parsed after all, falls back to the fallback backend and the triage says so in its
diagnostics. A prompt longer than the context is cut in the middle, also with a diagnostic.

Needs the optional extra: `pip install 'devroute[llama]'`.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from ..config import LlamaCppSettings
from ..errors import BackendError, ConfigError
from ..features import PromptFeatures
from ..schema import Triage
from .base import TriageBackend
from .devrouter_format import (
    DEFAULT_SYSTEM_PROMPT,
    TRUNCATED_DIAGNOSTIC,
    OutputError,
    OutputLimits,
    chat_messages,
    fallback_triage,
    output_limits,
    parse_output,
    retried_note,
    seconds,
    to_triage,
    triage_json_schema,
)

# Stands in for the user's prompt while the chat template is rendered, so the prompt itself is
# tokenized as plain text: a prompt quoting "<|im_end|>" cannot open a fake chat turn.
_USER_SLOT = "\x1fdevroute-user-prompt\x1f"
# Words DevRouter's baked-in router system prompt has to mention; a template without them needs ours.
_ROUTER_TEMPLATE_WORDS = ("intent", "complexity", "route", "missing")
_MIN_PROMPT_ROOM = 64


def _model_file(path: Path | None) -> Path:
    if path is None:
        raise ConfigError("triage.llama_cpp.model_path is not set: point it at a local GGUF file (or pass --model PATH)")
    resolved = path.expanduser()
    if not resolved.is_file():
        raise ConfigError(f"triage.llama_cpp.model_path: no such file: {resolved}")
    return resolved


class LlamaCppBackend:
    """DevRouter (or any instruct GGUF) in-process; one model, calls serialised by a lock."""

    name = "llama-cpp"

    def __init__(self, settings: LlamaCppSettings, fallback: TriageBackend) -> None:
        self.settings = settings
        self.fallback = fallback
        self.model_path = _model_file(settings.model_path)
        try:
            from llama_cpp import Llama, LlamaGrammar, StoppingCriteriaList
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise BackendError("the llama-cpp backend needs llama-cpp-python: pip install 'devroute[llama]'") from None
        self._stopping_criteria = StoppingCriteriaList
        try:
            self._llm = Llama(
                model_path=str(self.model_path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads,
                n_threads_batch=settings.n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"llama-cpp backend: cannot load {self.model_path}: {exc}") from None
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"llama-cpp backend: {self.model_path.name} has no chat template in its metadata")
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text(eos),
            bos_token=self._token_text(bos),
            stop_token_ids=[eos],
        )
        self.system_prompt = self._system_prompt(settings.system_prompt, template)
        # The messages differ only in the user's text, so the template is rendered and tokenized once.
        rendered = self._formatter(messages=chat_messages(_USER_SLOT, self.system_prompt))
        before, slot, after = rendered.prompt.partition(_USER_SLOT)
        if not slot:
            raise BackendError(f"llama-cpp backend: the chat template of {self.model_path.name} drops the user message")
        self._head = self._tokenize(before, special=True, bos=not rendered.added_special)
        self._tail = self._tokenize(after, special=True)
        # End-of-turn by token id only: a stop *string* would also cut a reply that quotes the
        # template's end marker, which the prompt may legitimately contain.
        self._end_of_turn = list(rendered.stopping_criteria or [])
        room = settings.n_ctx - settings.max_tokens - len(self._head) - len(self._tail)
        if room < _MIN_PROMPT_ROOM:
            raise ConfigError(
                f"triage.llama_cpp: n_ctx={settings.n_ctx} leaves {max(room, 0)} tokens for the prompt after the chat "
                f"template and max_tokens={settings.max_tokens}; raise n_ctx"
            )
        self._grammar_from_schema = LlamaGrammar.from_json_schema
        self._lock = threading.Lock()

    def _token_text(self, token: int) -> str:
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""

    @staticmethod
    def _system_prompt(configured: str | None, template: str) -> str | None:
        """Configured text wins ('' = send none); unset means ours unless the template has its own router prompt."""
        if configured is not None:
            return configured or None
        lowered = template.lower()
        return None if all(word in lowered for word in _ROUTER_TEMPLATE_WORDS) else DEFAULT_SYSTEM_PROMPT

    # -- the TriageBackend interface -------------------------------------------------------
    def triage(self, prompt: str, features: PromptFeatures) -> Triage:
        deadline = time.monotonic() + self.settings.timeout_s
        max_tokens = self.settings.max_tokens
        with self._lock:
            tokens, notes = self._prompt_tokens(prompt)
            try:
                text, finish_reason, timed_out = self._generate(tokens, output_limits(max_tokens, len(prompt)), deadline)
                if finish_reason == "length" and not timed_out:
                    tight = output_limits(max_tokens, len(prompt), tight=True)
                    notes.append(retried_note(max_tokens, tight))
                    text, finish_reason, timed_out = self._generate(tokens, tight, deadline)
            except (RuntimeError, ValueError) as exc:
                return fallback_triage(self.fallback, prompt, features, self.name, f"llama.cpp error: {exc}", notes)
        if timed_out:
            return fallback_triage(self.fallback, prompt, features, self.name, f"timeout after {seconds(self.settings.timeout_s)}", notes)
        if finish_reason == "length":
            reason = f"reply reached max_tokens={self.settings.max_tokens} before the JSON closed"
            return fallback_triage(self.fallback, prompt, features, self.name, reason, notes)
        try:
            parsed = parse_output(text)
        except OutputError as exc:
            return fallback_triage(self.fallback, prompt, features, self.name, f"unparseable output: {exc}", notes)
        return to_triage(parsed, self.name, notes)

    def triage_batch(self, prompts: list[str], features: list[PromptFeatures]) -> list[Triage]:
        # One sequence at a time: llama-cpp-python has no batched chat completion.
        return [self.triage(p, f) for p, f in zip(prompts, features, strict=True)]

    # -- internals -------------------------------------------------------------------------
    def _tokenize(self, text: str, special: bool, bos: bool = False) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=bos, special=special)

    def _prompt_tokens(self, prompt: str) -> tuple[list[int], list[str]]:
        """Chat-template tokens around the plain-text prompt, cut in the middle to fit n_ctx."""
        head, tail = self._head, self._tail
        user = self._tokenize(prompt, special=False)
        room = self.settings.n_ctx - self.settings.max_tokens - len(head) - len(tail)
        if len(user) <= room:
            return head + user + tail, []
        marker = self._tokenize(f"\n[... {len(user)} prompt tokens cut to fit the context ...]\n", special=False)
        keep = max(room - len(marker), 1)
        # The start says what is asked, the end often holds the error or the question: keep both.
        first = keep * 2 // 3
        kept = user[:first] + marker + user[len(user) - (keep - first):]
        return head + kept + tail, [f"{TRUNCATED_DIAGNOSTIC}: kept {keep} of {len(user)} tokens to fit n_ctx={self.settings.n_ctx}"]

    def _generate(self, tokens: list[int], limits: OutputLimits, deadline: float) -> tuple[str, str | None, bool]:
        """Greedy decoding under the schema grammar; returns (text, finish reason, timed out)."""
        grammar = self._grammar_from_schema(json.dumps(triage_json_schema(limits)), verbose=False)
        state = {"timed_out": False}

        def past_deadline(input_ids: Any, logits: Any) -> bool:
            # Checked after every generated token; the prompt pass itself is bounded by n_ctx.
            if time.monotonic() > deadline:
                state["timed_out"] = True
            return state["timed_out"]

        criteria = self._stopping_criteria([past_deadline, *self._end_of_turn])
        completion = self._llm.create_completion(
            prompt=tokens,
            max_tokens=self.settings.max_tokens,
            temperature=0.0,
            repeat_penalty=1.0,
            stopping_criteria=criteria,
            grammar=grammar,
        )
        choice = completion["choices"][0]  # type: ignore[index]
        return choice["text"], choice["finish_reason"], state["timed_out"]
