"""Shared fixtures: every test gets its own data dir and config file, never the user's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the decision log and config at a temp dir (inherited by subprocesses too)."""
    data = tmp_path / "devroute-data"
    monkeypatch.setenv("DEVROUTE_DATA_DIR", str(data))
    monkeypatch.setenv("DEVROUTE_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path


@pytest.fixture
def write_config(isolated_home: Path):
    def write(text: str) -> Path:
        path = isolated_home / "config.toml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def devroute_cmd() -> list[str]:
    """The CLI as a real subprocess, run by the interpreter running the tests."""
    return [sys.executable, "-m", "devroute.cli.main"]


def subprocess_env() -> dict[str, str]:
    return dict(os.environ)
