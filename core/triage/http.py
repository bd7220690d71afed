"""The http triage backend: the DevRouter model behind an OpenAI-compatible server.

llama-server, Ollama, vLLM and llama-cpp-python's server all answer POST /v1/chat/completions.
The prompt goes, as the only user message at temperature 0, to the configured URL and nowhere
else: no proxy or netrc from the environment, no redirects followed, and the only credential
sent is the API key from the environment variable the settings name. The reply is constrained
by a JSON-schema response format where the server takes one; a server that rejects the OpenAI
`json_schema` form is asked with `json_object` + schema (llama-cpp-python, llama-server), then
without one. Connection errors and 429/5xx are retried a bounded number of times with backoff;
a timeout, an exhausted retry budget or a reply that does not parse falls back to the local
backend, and the triage says so in its diagnostics.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx

from ..config import HttpSettings
from ..features import PromptFeatures
from ..schema import Triage
from .base import TriageBackend
from .devrouter_format import (
    OutputError,
    OutputLimits,
    chat_messages,
    excerpt,
    fallback_triage,
    output_limits,
    parse_output,
    retried_note,
    seconds,
    to_triage,
    triage_json_schema,
)

CHAT_PATH = "/v1/chat/completions"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Response-format forms, most standard first; a server that rejects one is asked with the next.
FORMATS = ("json_schema", "json_object", "none")
# After the server was unreachable or timed out, skip it this long so every prompt does not
# wait out the timeout again (an editor triages on each change).
UNAVAILABLE_COOLDOWN_S = 30.0
MAX_BACKOFF_S = 8.0


def chat_url(url: str) -> str:
    """The chat completions endpoint under a base URL ('http://h:p', '.../v1' or the full path)."""
    base = url.rstrip("/")
    if base.endswith(CHAT_PATH):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + CHAT_PATH


class _Failure(Exception):
    """The server could not give a usable reply; the message is the diagnostic's reason."""

    def __init__(self, reason: str, *, retryable: bool = False, server_unavailable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.server_unavailable = server_unavailable


class _FormatRejected(Exception):
    """The server refused the response_format we sent (HTTP 4xx/500 naming it)."""


class HttpBackend:
    """Triage by an OpenAI-compatible server; the local fallback answers when it cannot."""

    name = "http"

    def __init__(self, settings: HttpSettings, fallback: TriageBackend) -> None:
        self.settings = settings
        self.fallback = fallback
        self.url = chat_url(settings.url)
        self.response_format = FORMATS[0] if settings.json_schema else "none"
        self._unavailable_until = 0.0
        self._unavailable_reason = ""
        self._lock = threading.Lock()
        headers = {"Accept": "application/json", "User-Agent": "devroute"}
        api_key = os.environ.get(settings.api_key_env, "") if settings.api_key_env else ""
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # trust_env=False: no proxy variables, no ~/.netrc credentials; the prompt goes to self.url only.
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s),
            headers=headers,
            trust_env=False,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    # -- the TriageBackend interface -------------------------------------------------------
    def triage(self, prompt: str, features: PromptFeatures) -> Triage:
        with self._lock:
            skipped = time.monotonic() < self._unavailable_until
            reason = self._unavailable_reason
        if skipped:
            note = f"{reason}; the server is skipped for {seconds(UNAVAILABLE_COOLDOWN_S)} after such a failure"
            return fallback_triage(self.fallback, prompt, features, self.name, note)
        notes: list[str] = []
        max_tokens = self.settings.max_tokens
        try:
            content, finish_reason = self._complete(prompt, output_limits(max_tokens, len(prompt)))
            if finish_reason == "length" and self.response_format != "none":
                tight = output_limits(max_tokens, len(prompt), tight=True)
                notes.append(retried_note(max_tokens, tight))
                content, finish_reason = self._complete(prompt, tight)
            parsed = parse_output(content)
        except _Failure as failure:
            if failure.server_unavailable:
                with self._lock:
                    self._unavailable_until = time.monotonic() + UNAVAILABLE_COOLDOWN_S
                    self._unavailable_reason = str(failure)
            return fallback_triage(self.fallback, prompt, features, self.name, str(failure), notes)
        except OutputError as exc:
            return fallback_triage(self.fallback, prompt, features, self.name, f"unparseable output: {exc}", notes)
        return to_triage(parsed, self.name, notes)

    def triage_batch(self, prompts: list[str], features: list[PromptFeatures]) -> list[Triage]:
        return [self.triage(p, f) for p, f in zip(prompts, features, strict=True)]

    # -- the request -----------------------------------------------------------------------
    def _body(self, prompt: str, limits: OutputLimits, response_format: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": chat_messages(prompt, self.settings.system_prompt),
            "temperature": 0,
            "max_tokens": self.settings.max_tokens,
            "stream": False,
        }
        schema = triage_json_schema(limits)
        if response_format == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "devrouter_triage", "strict": True, "schema": schema}}
        elif response_format == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def _complete(self, prompt: str, limits: OutputLimits) -> tuple[str, str | None]:
        """One chat completion; steps down the response formats the server rejects."""
        while True:
            current = self.response_format
            try:
                return self._post_with_retries(self._body(prompt, limits, current))
            except _FormatRejected:
                following = FORMATS[FORMATS.index(current) + 1]
                with self._lock:
                    if self.response_format == current:
                        self.response_format = following

    def _post_with_retries(self, body: dict[str, Any]) -> tuple[str, str | None]:
        attempts = 1 + self.settings.retries
        for attempt in range(attempts):
            try:
                return self._post(body)
            except _Failure as failure:
                if not failure.retryable or attempt == attempts - 1:
                    raise
            time.sleep(min(MAX_BACKOFF_S, self.settings.backoff_s * 2**attempt))
        raise AssertionError("unreachable")

    def _post(self, body: dict[str, Any]) -> tuple[str, str | None]:
        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise _Failure(f"timeout after {seconds(self.settings.timeout_s)}", server_unavailable=True) from None
        except httpx.TransportError as exc:
            reason = f"cannot reach {self.url}: {_transport_reason(exc)}"
            raise _Failure(reason, retryable=True, server_unavailable=True) from None
        status = response.status_code
        if response.is_redirect:
            raise _Failure(f"HTTP {status}: the server redirects to {response.headers.get('location', '?')}; not following")
        if status >= 400:
            text = response.text
            if body.get("response_format") and status in (400, 422, 500) and ("response_format" in text or "json_schema" in text):
                raise _FormatRejected()
            raise _Failure(f"HTTP {status} from the server: {excerpt(text)}", retryable=status in RETRY_STATUSES)
        try:
            payload = response.json()
            choice = payload["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise OutputError(f"not an OpenAI chat completion: {excerpt(response.text)!r}") from None
        if not isinstance(content, str):
            raise OutputError("the reply has no text content")
        return content, choice.get("finish_reason")


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"connection failed ({exc})"
    return f"{type(exc).__name__} ({exc})" if str(exc) else type(exc).__name__
