"""The http backend against real servers: small HTTP servers started here for the faults (down,
slow, garbage, errors, redirects), and llama-cpp-python's own OpenAI-compatible server running
the SmolLM2 GGUF for the real thing.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devroute.core.config import HttpSettings, Settings
from devroute.core.evaluate import is_schema_valid
from devroute.core.features import extract_features
from devroute.core.router import Router
from devroute.core.schema import MissingKind, Triage
from devroute.core.triage.devrouter_format import DEFAULT_SYSTEM_PROMPT, RETRIED_DIAGNOSTIC
from devroute.core.triage.http import HttpBackend
from devroute.core.triage.rules import FeatureBackend
from gguf_fixtures import free_port, llama_server, smollm2_gguf, write_eval_data  # noqa: F401  (fixtures)

PROMPT = "My Flask app 500s on POST /upload with RequestEntityTooLarge, how do I fix it?"
GOOD_REPLY = {
    "rewrite": "My Flask app returns HTTP 500 (RequestEntityTooLarge) on POST /upload. How do I fix it?",
    "intent": "debug",
    "complexity": "low",
    "route": "small_local",
    "missing": ["Flask version", "the full stack trace"],
}


# -- a small real HTTP server that records what it receives ---------------------------------------
@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def completion(content: str, finish_reason: str = "stop") -> dict:
    return {"id": "x", "object": "chat.completion", "model": "devrouter",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}]}


@dataclass
class Recorder:
    url: str
    requests: list[Request]


@contextmanager
def serve(answer: Callable[[Request], Reply]) -> Iterator[Recorder]:
    """Serve on a free port; `answer` decides each reply. Slow replies end when the server stops."""
    requests: list[Request] = []
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"{}"))
            requests.append(request)
            reply = answer(request)
            if reply.delay_s:
                stopping.wait(reply.delay_s)
            body = reply.body if isinstance(reply.body, bytes) else (
                reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode())
            try:
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to send it

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Recorder(f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()


def backend(url: str, **overrides) -> HttpBackend:
    settings = HttpSettings(url=url, **{"backoff_s": 0.01, **overrides})
    return HttpBackend(settings, fallback=FeatureBackend())


def triage(b: HttpBackend, prompt: str = PROMPT) -> Triage:
    return b.triage(prompt, extract_features(prompt))


def fell_back(result: Triage, reason: str) -> bool:
    return result.backend == "features" and result.diagnostics[-1] == f"backend.fallback: http -> features ({reason})"


# -- a good reply -----------------------------------------------------------------------------------
def test_reply_becomes_triage_and_the_request_is_devrouter_shaped():
    with serve(lambda r: Reply(body=completion(json.dumps(GOOD_REPLY)))) as server:
        result = triage(backend(server.url, model="devrouter-q8"))
    assert result.backend == "http" and result.diagnostics == [] and is_schema_valid(result)
    assert result.devrouter().model_dump(mode="json") == GOOD_REPLY
    assert [(i.kind, i.text) for i in result.missing_items] == [
        (MissingKind.versions, "Flask version"), (MissingKind.error_output, "the full stack trace")]
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "devrouter-q8" and request.body["temperature"] == 0 and request.body["stream"] is False
    assert request.body["messages"] == [{"role": "user", "content": PROMPT}]  # the raw prompt, no system prompt by default
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert request.body["response_format"]["type"] == "json_schema"
    assert schema["required"] == ["rewrite", "intent", "complexity", "route", "missing"]
    assert schema["properties"]["rewrite"]["maxLength"] and schema["properties"]["missing"]["maxItems"]


def test_configured_system_prompt_goes_first():
    with serve(lambda r: Reply(body=completion(json.dumps(GOOD_REPLY)))) as server:
        triage(backend(server.url, system_prompt=DEFAULT_SYSTEM_PROMPT))
    assert server.requests[0].body["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": PROMPT}]


def test_a_fenced_reply_from_a_server_without_schema_support_still_parses():
    fenced = "Here you go:\n```json\n" + json.dumps({**GOOD_REPLY, "intent": "Debug"}) + "\n```"
    with serve(lambda r: Reply(body=completion(fenced))) as server:
        result = triage(backend(server.url, json_schema=False))
    assert result.backend == "http" and result.intent.value == "debug"
    assert "response_format" not in server.requests[0].body


@pytest.mark.parametrize("url_suffix", ["", "/", "/v1", "/v1/chat/completions"])
def test_every_form_of_the_url_reaches_the_chat_endpoint(url_suffix):
    with serve(lambda r: Reply(body=completion(json.dumps(GOOD_REPLY)))) as server:
        assert triage(backend(server.url + url_suffix)).backend == "http"
    assert [r.path for r in server.requests] == ["/v1/chat/completions"]


# -- what leaves the machine ----------------------------------------------------------------------
ALLOWED_HEADERS = {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length", "content-type", "authorization"}


def test_only_the_named_api_key_is_sent_and_no_proxy_or_netrc_is_used(monkeypatch, tmp_path):
    with serve(lambda r: Reply(body=completion(json.dumps(GOOD_REPLY)))) as server, \
            serve(lambda r: Reply(status=502)) as proxy:
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login alice password hunter2\n")
        monkeypatch.setenv("NETRC", str(netrc))
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.setenv("MY_ROUTER_KEY", "sk-test-123")
        assert triage(backend(server.url, api_key_env="MY_ROUTER_KEY")).backend == "http"
        monkeypatch.delenv("MY_ROUTER_KEY")
        assert triage(backend(server.url, api_key_env="MY_ROUTER_KEY")).backend == "http"
    assert proxy.requests == []
    with_key, without_key = server.requests
    assert with_key.headers["authorization"] == "Bearer sk-test-123"
    assert "authorization" not in without_key.headers
    for request in (with_key, without_key):
        assert set(request.headers) <= ALLOWED_HEADERS


def test_redirects_are_not_followed():
    with serve(lambda r: Reply(body=completion(json.dumps(GOOD_REPLY)))) as elsewhere:
        target = elsewhere.url + "/v1/chat/completions"
        with serve(lambda r: Reply(status=307, headers={"Location": target})) as server:
            result = triage(backend(server.url))
    assert elsewhere.requests == [] and len(server.requests) == 1
    assert fell_back(result, f"HTTP 307: the server redirects to {target}; not following")


# -- faults: down, slow, garbage, errors ----------------------------------------------------------
def test_server_down_falls_back_then_is_skipped_for_a_while():
    url = f"http://127.0.0.1:{free_port()}"
    b = backend(url, retries=2)
    first, second = triage(b), triage(b)
    reason = f"cannot reach {url}/v1/chat/completions: connection refused"
    assert fell_back(first, reason)
    assert fell_back(second, f"{reason}; the server is skipped for 30s after such a failure")


def test_slow_server_times_out_once_without_retrying():
    with serve(lambda r: Reply(body=completion(json.dumps(GOOD_REPLY)), delay_s=30)) as server:
        result = triage(backend(server.url, timeout_s=0.5, retries=3))
    assert fell_back(result, "timeout after 0.5s")
    assert len(server.requests) == 1


GARBAGE = {
    "html page": Reply(body="<html><body>502 Bad Gateway</body></html>", headers={"Content-Type": "text/html"}),
    "prose reply": Reply(body=completion("This looks like a debugging task about Flask.")),
    "bad enum": Reply(body=completion(json.dumps({**GOOD_REPLY, "intent": "fix-it"}))),
    "missing field": Reply(body=completion(json.dumps({k: v for k, v in GOOD_REPLY.items() if k != "route"}))),
    "empty content": Reply(body=completion("")),
    "no choices": Reply(body={"error": "model not loaded"}),
}


@pytest.mark.parametrize("kind", GARBAGE)
def test_garbage_replies_fall_back_as_unparseable(kind):
    with serve(lambda r: GARBAGE[kind]) as server:
        result = triage(backend(server.url))
    assert result.backend == "features" and not is_schema_valid(result)
    assert result.diagnostics[-1].startswith("backend.fallback: http -> features (unparseable output: ")
    assert len(server.requests) == 1  # temperature 0: asking again would give the same reply


def test_transient_errors_are_retried_with_backoff():
    def flaky(request: Request) -> Reply:
        return Reply(status=503, body="loading model") if len(server.requests) <= 2 else Reply(body=completion(json.dumps(GOOD_REPLY)))

    with serve(flaky) as server:
        result = triage(backend(server.url, retries=2))
    assert result.backend == "http" and len(server.requests) == 3


def test_retries_are_bounded():
    with serve(lambda r: Reply(status=503, body="loading model")) as server:
        result = triage(backend(server.url, retries=1))
    assert fell_back(result, "HTTP 503 from the server: loading model")
    assert len(server.requests) == 2


def test_a_refused_api_key_is_not_retried():
    with serve(lambda r: Reply(status=401, body={"detail": "Invalid API key"})) as server:
        result = triage(backend(server.url, retries=3))
    assert fell_back(result, 'HTTP 401 from the server: {"detail": "Invalid API key"}')
    assert len(server.requests) == 1


def test_response_format_steps_down_to_what_the_server_takes():
    def picky(request: Request) -> Reply:
        kind = request.body.get("response_format", {}).get("type")
        if kind == "json_schema":
            return Reply(status=422, body={"detail": "response_format.type: Input should be 'text' or 'json_object'"})
        return Reply(body=completion(json.dumps(GOOD_REPLY)))

    with serve(picky) as server:
        b = backend(server.url)
        assert triage(b).backend == "http" and triage(b).backend == "http"
    sent = [r.body.get("response_format", {}).get("type") for r in server.requests]
    assert sent == ["json_schema", "json_object", "json_object"]
    assert "schema" in server.requests[1].body["response_format"]
    assert b.response_format == "json_object"


def test_a_reply_cut_at_max_tokens_is_asked_again_with_a_shorter_rewrite():
    def first_too_long(request: Request) -> Reply:
        if len(server.requests) == 1:
            return Reply(body=completion('{"rewrite": "My Flask app returns HTTP 500 on POST /upl', finish_reason="length"))
        return Reply(body=completion(json.dumps(GOOD_REPLY)))

    with serve(first_too_long) as server:
        result = triage(backend(server.url))
    assert result.backend == "http"
    assert result.diagnostics and result.diagnostics[0].startswith(RETRIED_DIAGNOSTIC)
    caps = [r.body["response_format"]["json_schema"]["schema"]["properties"]["rewrite"]["maxLength"] for r in server.requests]
    assert caps[1] < caps[0]


def test_the_router_decision_carries_the_fallback_diagnostic(isolated_home):
    settings = Settings()
    settings.triage.backend = "http"
    settings.triage.http.url = f"http://127.0.0.1:{free_port()}"
    settings.triage.http.retries = 0
    router = Router(settings)
    try:
        decision = router.route(PROMPT)
    finally:
        router.close()
    assert decision.selected_model
    assert any(d.startswith("backend.fallback: http -> ") for d in decision.diagnostics)
    assert decision.triage.backend != "http"


# -- the real thing: llama-cpp-python's OpenAI-compatible server with the SmolLM2 GGUF -------------
@pytest.mark.slow
def test_llama_cpp_server_replies_always_parse(llama_server, monkeypatch):
    monkeypatch.setenv("DEVROUTE_HTTP_API_KEY", llama_server.api_key)
    b = backend(llama_server.url, system_prompt=DEFAULT_SYSTEM_PROMPT, timeout_s=120)
    for prompt in (PROMPT, "hi", "refactor this giant function into smaller ones"):
        result = triage(b, prompt)
        assert result.backend == "http", result.diagnostics
        assert is_schema_valid(result) and result.rewrite.strip()
    # llama-cpp-python's server refuses the OpenAI json_schema form and takes json_object + schema.
    assert b.response_format == "json_object"


@pytest.mark.slow
def test_llama_cpp_server_with_a_wrong_api_key_falls_back(llama_server, monkeypatch):
    monkeypatch.setenv("DEVROUTE_HTTP_API_KEY", "wrong-key")
    result = triage(backend(llama_server.url))
    assert result.backend == "features"
    assert result.diagnostics[-1].startswith("backend.fallback: http -> features (HTTP 401 from the server")


@pytest.mark.slow
def test_cli_eval_over_http_is_fully_schema_valid(llama_server, devroute_cmd, write_config, tmp_path, monkeypatch):
    monkeypatch.setenv("DEVROUTE_HTTP_API_KEY", llama_server.api_key)
    write_config(f"[triage.http]\ntimeout_s = 120\nsystem_prompt = {json.dumps(DEFAULT_SYSTEM_PROMPT)}\n")
    data = write_eval_data(tmp_path / "labelled.jsonl")
    out = subprocess.run([*devroute_cmd, "eval", "--backend", "http", "--url", llama_server.url, "--data", str(data), "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "http" and report["n"] == 3 and report["schema_validity"] == 1.0


def test_cli_eval_names_the_configured_backend_and_counts_its_fallbacks(devroute_cmd, tmp_path):
    data = write_eval_data(tmp_path / "labelled.jsonl")
    down = f"http://127.0.0.1:{free_port()}"
    out = subprocess.run([*devroute_cmd, "eval", "--backend", "http", "--url", down, "--data", str(data), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "http" and report["fallbacks"] == report["n"] == 3
    assert report["schema_validity"] == 0.0
