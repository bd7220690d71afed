"""The language server's settings, as an editor sends them.

They arrive in `initializationOptions` and in `workspace/didChangeConfiguration` (pushed, or
pulled with `workspace/configuration` for the section "devroute"). Keys are camelCase as editor
settings are (snake_case is accepted too); a bad value raises SettingsError with one line
naming the key, and the server keeps the settings it had.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from devroute.core.config import BackendName, format_validation_error
from devroute.core.errors import DevrouteError
from devroute.core.prompt_blocks import DEFAULT_GLOBS, SplitMode, check_glob
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

SECTION = "devroute"
_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


class SettingsError(DevrouteError):
    """An editor setting is invalid; the message names the key."""


class LspSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    policy: dict[str, Any] = Field(
        default_factory=dict, description="Policy overrides (threshold, maxRegret, lowRiskMaxRegret, fallback, allowedModels)."
    )
    backend: BackendName | None = Field(default=None, description="Triage backend; None keeps the config file's (or --backend).")
    globs: list[str] = Field(default_factory=lambda: list(DEFAULT_GLOBS), description="Files devroute analyses; others are left alone.")
    split: SplitMode = Field(default="section", description="How a file is cut into prompt blocks.")
    debounce_ms: int = Field(default=150, ge=0, le=5000, description="Quiet time after an edit before diagnostics are recomputed.")
    severity: Literal["information", "hint"] = "information"
    max_diagnostics: int = Field(default=100, ge=0, le=10_000, description="Cap per document, so a huge file cannot flood the editor.")

    @field_validator("globs")
    @classmethod
    def _usable_globs(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            check_glob(glob)
        return globs

    @field_validator("policy", mode="before")
    @classmethod
    def _snake_case_policy(cls, policy: Any) -> Any:
        # Editors write policy keys camelCase (maxRegret); the core's Policy model is snake_case.
        if isinstance(policy, dict):
            return {_CAMEL_HUMP.sub("_", str(key)).lower(): value for key, value in policy.items()}
        return policy


def parse_settings(raw: Any, where: str = "devroute settings") -> LspSettings:
    """Validate settings from an editor; `{"devroute": {...}}` and the bare section both work."""
    if isinstance(raw, dict) and SECTION in raw:
        raw = raw[SECTION]
    # Lua clients (Neovim) encode an empty table as [], so "no settings" may arrive as null, {} or [].
    if raw is None or raw == []:
        return LspSettings()
    if not isinstance(raw, dict):
        raise SettingsError(f"{where}: expected an object, got {type(raw).__name__}")
    try:
        return LspSettings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, where)) from None
