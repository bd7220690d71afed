"""The one TOML configuration file, validated by pydantic; errors name the bad key.

Location: the --config flag, else $DEVROUTE_CONFIG, else `config.toml` in the user's config
directory (platformdirs). A missing default file means all defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError
from .guard import DEFAULT_MAX_CHARS
from .schema import Policy

APP_NAME = "devroute"
CONFIG_ENV = "DEVROUTE_CONFIG"
DATA_DIR_ENV = "DEVROUTE_DATA_DIR"
BackendName = Literal["builtin", "features", "llama-cpp", "http"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LlamaCppSettings(_Strict):
    model_path: Path | None = None
    n_ctx: int = Field(default=4096, ge=256)
    n_threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=512, ge=16)
    timeout_s: float = Field(default=120.0, gt=0)
    system_prompt: str | None = None


class HttpSettings(_Strict):
    url: str = "http://127.0.0.1:8080"
    model: str = "devrouter"
    api_key_env: str = "DEVROUTE_HTTP_API_KEY"
    max_tokens: int = Field(default=512, ge=16)
    timeout_s: float = Field(default=20.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    json_schema: bool = True
    system_prompt: str | None = None


class TriageSettings(_Strict):
    backend: BackendName = "builtin"
    llama_cpp: LlamaCppSettings = Field(default_factory=LlamaCppSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)


class LogSettings(_Strict):
    enabled: bool = True
    path: Path | None = None
    store_prompt: bool = Field(default=True, description="Store the (redacted) prompt text with each decision.")


class GuardSettings(_Strict):
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1)


class CatalogSettings(_Strict):
    file: Path | None = Field(default=None, description="Replace the shipped catalog with this TOML file.")
    add: list[dict[str, Any]] = Field(default_factory=list)
    override: dict[str, dict[str, Any]] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


class Settings(_Strict):
    policy: Policy = Field(default_factory=Policy)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    source: Path | None = Field(default=None, exclude=True)

    def log_path(self) -> Path:
        if self.log.path is not None:
            return self.log.path.expanduser()
        data_dir = os.environ.get(DATA_DIR_ENV) or platformdirs.user_data_dir(APP_NAME)
        return Path(data_dir) / "decisions.sqlite3"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def format_validation_error(error: ValidationError, where: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return f"{where}: {key}: {message}{more}"


def parse_settings(data: dict[str, Any], where: str = "config") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where)) from None


def load_settings(path: str | Path | None = None) -> Settings:
    explicit = path or os.environ.get(CONFIG_ENV)
    config_path = Path(explicit).expanduser() if explicit else default_config_path()
    if not config_path.exists():
        if explicit:
            raise ConfigError(f"config file not found: {config_path}")
        return Settings()
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc}") from None
    settings = parse_settings(data, str(config_path))
    settings.source = config_path
    return settings
