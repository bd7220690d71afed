"""The shipped data set: held-out splits never trained on, labels that follow LABELING.md's rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from devroute.core.schema import COMPLEXITIES, INTENTS, MISSING_KINDS, ROUTES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
sys.path.insert(0, str(ROOT / "scripts"))
from build_dataset import normalised  # noqa: E402  (the build's own rule for "the same prompt")

SPLITS = ("train", "dev", "heldout", "heldout_style2")


def rows(split: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return {name: rows(name) for name in SPLITS}


def test_held_out_splits_share_no_id_or_prompt_with_training(splits):
    seen_ids = {r["id"] for name in ("train", "dev") for r in splits[name]}
    seen_prompts = {normalised(r["prompt"]) for name in ("train", "dev") for r in splits[name]}
    for name in ("heldout", "heldout_style2"):
        assert not {r["id"] for r in splits[name]} & seen_ids
        leaked = [r["id"] for r in splits[name] if normalised(r["prompt"]) in seen_prompts and len(r["prompt"]) > 12]
        assert not leaked, f"{name} prompts also in train/dev: {leaked}"


@pytest.mark.parametrize("split", SPLITS)
def test_labels_are_in_the_schema_and_route_follows_complexity(splits, split):
    for r in splits[split]:
        assert r["intent"] in INTENTS and r["complexity"] in COMPLEXITIES and r["route"] in ROUTES, r["id"]
        assert set(r["missing_kinds"]) <= set(MISSING_KINDS) and len(r["missing_kinds"]) == len(r["missing"]), r["id"]
        step = ROUTES.index(r["route"]) - COMPLEXITIES.index(r["complexity"])
        assert step in (0, 1), r["id"]  # the complexity's tier, or one step up for stakes
        if r["intent"] == "other":
            assert (r["complexity"], r["route"], r["missing_kinds"]) == ("low", "small_local", []), r["id"]


def test_every_intent_has_enough_held_out_rows(splits):
    counts = {intent: sum(r["intent"] == intent for r in splits["heldout"]) for intent in INTENTS}
    assert min(counts.values()) >= 30, counts
