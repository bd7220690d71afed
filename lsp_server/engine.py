"""The language server's link to the core: one Router, one worker thread, one decision cache.

Every call into the Router runs on a single worker thread, so the event loop that reads the
editor's messages is never blocked by triage (typing stays responsive) and backends that are not
thread-safe (llama-cpp) are only ever used from one thread. Decisions for editor features are
made with `log=False` and cached by block text: an edit re-triages only the blocks it changed.
Only the explicit "route and log" command writes to the decision log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from devroute.core.config import Settings, format_validation_error, load_settings
from devroute.core.errors import DevrouteError
from devroute.core.policy import allowed_candidates, fallback_model
from devroute.core.prompt_blocks import PromptBlock, split_blocks
from devroute.core.router import Router
from devroute.core.schema import Decision, Policy
from pydantic import ValidationError

from .settings import LspSettings, SettingsError

logger = logging.getLogger(__name__)
T = TypeVar("T")
CACHE_SIZE = 2048


class Engine:
    def __init__(self, config: Path | None = None, backend: str | None = None) -> None:
        self._config_path = config
        self._cli_backend = backend
        self._base: Settings | None = None
        self._backend: str | None = None
        self.router: Router | None = None
        self.policy: Policy | None = None
        self.settings = LspSettings()
        self.unavailable: str | None = "devroute is starting"
        # Block text -> decision (None when the core refused the block, e.g. too large).
        self._cache: OrderedDict[str, Decision | None] = OrderedDict()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devroute-triage")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run fn(*args) on the worker thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, partial(fn, *args))

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
        if self.router is not None:
            self.router.close()

    # -- everything below runs on the worker thread ----------------------------------------

    def configure(self, settings: LspSettings) -> None:
        """Apply new settings, all or nothing: on error the previous router, policy and settings stay."""
        if self._base is None:
            self._base = load_settings(self._config_path)
        # The editor setting wins over --backend, which wins over the config file.
        backend = settings.backend or self._cli_backend or self._base.triage.backend
        router = self.router
        if router is None or backend != self._backend:
            router = self._build_router(backend)
        try:
            policy = router.resolve_policy(settings.policy)
            # The Router checks its configured policy at start-up; an editor's policy gets the same check
            # now, so a bad allow-list is one clear message instead of a failure on every block.
            fallback_model(policy, allowed_candidates(policy, router.catalog))
        except ValidationError as exc:
            if router is not self.router:
                router.close()
            raise SettingsError(format_validation_error(exc, "devroute settings: policy")) from None
        except DevrouteError as exc:
            if router is not self.router:
                router.close()
            raise SettingsError(f"devroute settings: policy: {exc}") from None
        if self.router is not None and router is not self.router:
            self.router.close()
        self.router, self.policy, self.settings, self._backend = router, policy, settings, backend
        self.unavailable = None
        self._cache.clear()

    def _build_router(self, backend: str) -> Router:
        assert self._base is not None
        settings = self._base.model_copy(deep=True)
        settings.triage.backend = backend  # type: ignore[assignment]
        try:
            return Router(settings)
        except DevrouteError:
            raise
        except Exception as exc:  # noqa: BLE001 - a backend that cannot load must not kill the server
            raise DevrouteError(f"the triage backend '{backend}' could not start: {exc}") from exc

    def blocks(self, source: str) -> list[PromptBlock]:
        return split_blocks(source, self.settings.split)

    def decide(self, blocks: Sequence[PromptBlock]) -> list[Decision | None]:
        """One decision per block (None where the core refused the block), from the cache where possible."""
        if self.router is None:
            return [None] * len(blocks)
        found: dict[str, Decision | None] = {}
        for block in blocks:
            if block.text in self._cache:
                self._cache.move_to_end(block.text)
                found[block.text] = self._cache[block.text]
        misses = list(dict.fromkeys(block.text for block in blocks if block.text not in found))
        if misses:
            for text, decision in zip(misses, self._route_all(misses), strict=True):
                found[text] = decision
                self._cache[text] = decision
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return [found[block.text] for block in blocks]

    def _route_all(self, texts: list[str]) -> list[Decision | None]:
        assert self.router is not None
        try:
            return list(self.router.route_batch(texts, self.policy, log=False))
        except DevrouteError:
            # One refused block (too large, binary) fails the batch: route one by one to keep the rest.
            return [self._route_one(text) for text in texts]

    def _route_one(self, text: str) -> Decision | None:
        assert self.router is not None
        try:
            return self.router.route(text, self.policy, log=False)
        except DevrouteError as exc:
            logger.info("block not routed: %s", exc)
            return None

    def route_and_log(self, text: str) -> Decision:
        """Route one block and write the decision to the log (the explicit editor command)."""
        if self.router is None:
            raise DevrouteError(self.unavailable or "devroute is not configured")
        decision = self.router.route(text, self.policy, log=True)
        self._cache[text] = decision
        return decision
