"""The candidate catalog: the shipped models/catalog.toml plus the user's additions, overrides and removals."""

from __future__ import annotations

import tomllib
from typing import Any

from pydantic import ValidationError

from .config import CatalogSettings, format_validation_error
from .errors import ConfigError, UnknownModelError
from .schema import Candidate


def shipped_catalog_text() -> str:
    from devroute.models import MODELS_DIR

    return (MODELS_DIR / "catalog.toml").read_text(encoding="utf-8")


def _parse(entries: list[dict[str, Any]], where: str) -> list[Candidate]:
    candidates = []
    for index, entry in enumerate(entries):
        try:
            candidates.append(Candidate.model_validate(entry))
        except ValidationError as exc:
            name = entry.get("id", f"#{index + 1}") if isinstance(entry, dict) else f"#{index + 1}"
            raise ConfigError(format_validation_error(exc, f"{where}: candidate {name}")) from None
    return candidates


def load_catalog(settings: CatalogSettings | None = None) -> list[Candidate]:
    settings = settings or CatalogSettings()
    if settings.file is not None:
        path = settings.file.expanduser()
        try:
            text, where = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ConfigError(f"catalog.file: cannot read {path}: {exc}") from None
    else:
        text, where = shipped_catalog_text(), "models/catalog.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    by_id = {c.id: c for c in _parse(data.get("candidates", []), where)}

    for model_id, changes in settings.override.items():
        if model_id not in by_id:
            raise UnknownModelError(f"catalog.override: unknown model '{model_id}'")
        merged = by_id[model_id].model_dump()
        for key, value in changes.items():
            merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        by_id[model_id] = _parse([merged], f"catalog.override.{model_id}")[0]
    for candidate in _parse(settings.add, "catalog.add"):
        by_id[candidate.id] = candidate
    for model_id in settings.remove:
        if model_id not in by_id:
            raise UnknownModelError(f"catalog.remove: unknown model '{model_id}'")
        del by_id[model_id]
    if not by_id:
        raise ConfigError("the catalog has no candidates left")
    return list(by_id.values())
