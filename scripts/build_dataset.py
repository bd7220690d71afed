"""Assemble the labelled data set from the two labelling passes and split it.

    python scripts/build_dataset.py blind   # data/blind/<part>.prompts.jsonl: id + prompt only, for the blind pass
    python scripts/build_dataset.py disagreements  # data/blind/<part>.disagreements.jsonl for adjudication
    python scripts/build_dataset.py rubric  # data/rubric/chunkN.prompts.jsonl: id + prompt, for the rubric pass
    python scripts/build_dataset.py rubric-disagreements  # data/rubric/chunkN.disagreements.jsonl
    python scripts/build_dataset.py build   # agreement, resolution, splits, data/stats.json

Pass 1: data/raw/<part>.jsonl (the author's labels). Pass 2: data/blind/<part>.labels.jsonl,
written by a second labeller who saw only the prompts. Where the passes disagree on intent,
complexity or route, data/blind/adjudicated.jsonl holds the resolution made with both
labels and LABELING.md in view (data/blind/<part>.adjudicated.jsonl); the final label is the adjudicated one. Missing kinds agree
when the two sets are equal; where they differ the adjudicated set is used when present,
else the intersection (what both labellers would ask for).

Pass 3 (complexity and route only): a labeller who saw only the prompts and
data/COMPLEXITY_RUBRIC.md wrote data/rubric/chunkN.labels.jsonl. Where it differs from the
result of passes 1-2, an adjudicator with the rubric, the prompt and both label pairs (random
order, unmarked) decided (data/rubric/chunkN.adjudicated.jsonl).

Splits (stratified by intent, fixed seed): raw parts -> train 73% / dev 12% / heldout 15%;
raw/style2.jsonl -> heldout_style2.jsonl (a different writing style, never trained on);
raw/style3*.jsonl and raw/part7-18.jsonl (written later; blind pass and adjudication with the
rubric) -> train 85% / dev 15% only.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
RAW, BLIND, RUBRIC = DATA / "raw", DATA / "blind", DATA / "rubric"
SEED = 7
RUBRIC_CHUNKS = 8
RUBRIC_FIELDS = ("complexity", "route")
# Parts written after the held-out splits were fixed (style3*: further styles; part7-12: the main
# set's styles, boundary cases, written with the rubric; part13-18: everyday prompts by persona,
# written without it): train/dev only, so the held-out splits stay as they were.
TRAIN_ONLY_PARTS = frozenset({"style3a", "style3b", "style3c", *(f"part{n}" for n in range(7, 19))})
FIELDS = ("intent", "complexity", "route")


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def blind() -> None:
    BLIND.mkdir(exist_ok=True)
    for raw in sorted(RAW.glob("*.jsonl")):
        rows = [{"id": r["id"], "prompt": r["prompt"]} for r in read(raw)]
        random.Random(SEED).shuffle(rows)
        write(BLIND / f"{raw.stem}.prompts.jsonl", rows)
        print(f"{raw.stem}: {len(rows)} prompts")


def disagreements() -> None:
    """Rows where the passes differ, with both label sets in random order (neither is marked as the author's)."""
    for raw in sorted(RAW.glob("*.jsonl")):
        second = {r["id"]: r for r in read(BLIND / f"{raw.stem}.labels.jsonl")}
        # An adjudicated part keeps the file its adjudicator saw; each part has its own shuffle.
        if not second or (BLIND / f"{raw.stem}.adjudicated.jsonl").exists():
            continue
        rng = random.Random(f"{SEED}-{raw.stem}")
        out = []
        for first in read(raw):
            other = second.get(first["id"])
            if other is None:
                continue
            a = {f: first[f] for f in FIELDS} | {"missing_kinds": sorted(first.get("missing_kinds", []))}
            b = {f: other[f] for f in FIELDS} | {"missing_kinds": sorted(other.get("missing_kinds", []))}
            if a != b:
                pair = [a, b]
                rng.shuffle(pair)
                out.append({"id": first["id"], "prompt": first["prompt"], "labels_1": pair[0], "labels_2": pair[1]})
        write(BLIND / f"{raw.stem}.disagreements.jsonl", out)
        print(f"{raw.stem}: {len(out)} of {len(second)} checked rows disagree")


def rubric() -> None:
    """Every prompt of every part, shuffled together, split into chunks for the rubric pass."""
    RUBRIC.mkdir(exist_ok=True)
    rows = [{"id": r["id"], "prompt": r["prompt"]} for raw in sorted(RAW.glob("*.jsonl")) for r in read(raw)]
    random.Random(SEED).shuffle(rows)
    for n in range(RUBRIC_CHUNKS):
        chunk = rows[n::RUBRIC_CHUNKS]
        write(RUBRIC / f"chunk{n + 1}.prompts.jsonl", chunk)
        print(f"chunk{n + 1}: {len(chunk)} prompts")


def resolved_rows() -> dict[str, dict]:
    """Labels after passes 1-2 and their adjudication, by id."""
    adjudicated = {r["id"]: r for path in sorted(BLIND.glob("*.adjudicated.jsonl")) for r in read(path)}
    out: dict[str, dict] = {}
    for raw in sorted(RAW.glob("*.jsonl")):
        second = {r["id"]: r for r in read(BLIND / f"{raw.stem}.labels.jsonl")}
        for first in read(raw):
            out[first["id"]] = resolve(first, second.get(first["id"]), adjudicated.get(first["id"]), Counter())
    return out


def rubric_disagreements() -> None:
    """Rows where the rubric pass differs from passes 1-2 on complexity or route, both pairs unmarked."""
    resolved = resolved_rows()
    for path in sorted(RUBRIC.glob("chunk*.labels.jsonl")):
        rng = random.Random(f"{SEED}-{path.name}")  # per chunk, so one chunk's file does not depend on the others
        out = []
        for third in read(path):
            row = resolved[third["id"]]
            a = {f: row[f] for f in RUBRIC_FIELDS}
            b = {f: third[f] for f in RUBRIC_FIELDS}
            if a != b:
                pair = [a, b]
                rng.shuffle(pair)
                out.append({"id": row["id"], "prompt": row["prompt"], "labels_1": pair[0], "labels_2": pair[1]})
        name = path.name.replace(".labels.", ".disagreements.")
        write(RUBRIC / name, out)
        print(f"{name}: {len(out)} rows disagree")


def resolve(first: dict, second: dict | None, adjudicated: dict | None, agreement: Counter) -> dict:
    row = dict(first)
    if second is None:
        agreement["unchecked"] += 1
        return row
    agreement["checked"] += 1
    disagreements = [f for f in FIELDS if first[f] != second[f]]
    for f in FIELDS:
        agreement[f"{f}_agree"] += first[f] == second[f]
    kinds_a, kinds_b = set(first.get("missing_kinds", [])), set(second.get("missing_kinds", []))
    agreement["missing_agree"] += kinds_a == kinds_b
    agreement["all_agree"] += not disagreements and kinds_a == kinds_b
    if adjudicated is not None:
        for f in FIELDS:
            row[f] = adjudicated[f]
        if "missing_kinds" in adjudicated:
            keep = adjudicated["missing_kinds"]
            texts = dict(zip(first.get("missing_kinds", []), first.get("missing", [])))
            row["missing_kinds"] = list(keep)
            row["missing"] = [texts.get(k) or adjudicated.get("missing", [""] * len(keep))[i] or k for i, k in enumerate(keep)]
        agreement["adjudicated"] += 1
    elif disagreements:
        agreement["unresolved"] += 1
    elif kinds_a != kinds_b:
        pairs = [(k, t) for k, t in zip(first.get("missing_kinds", []), first.get("missing", [])) if k in kinds_b]
        row["missing_kinds"] = [k for k, _ in pairs]
        row["missing"] = [t for _, t in pairs]
    return row


def stratified_split(rows: list[dict], fractions: tuple[float, float]) -> tuple[list[dict], list[dict], list[dict]]:
    by_intent: dict[str, list[dict]] = {}
    for r in rows:
        by_intent.setdefault(r["intent"], []).append(r)
    rng = random.Random(SEED)
    train, dev, held = [], [], []
    for intent in sorted(by_intent):
        group = sorted(by_intent[intent], key=lambda r: r["id"])
        rng.shuffle(group)
        n_held, n_dev = round(len(group) * fractions[1]), round(len(group) * fractions[0])
        held += group[:n_held]
        dev += group[n_held : n_held + n_dev]
        train += group[n_held + n_dev :]
    return train, dev, held


def apply_rubric(row: dict, third: dict | None, adjudicated: dict | None, agreement: Counter) -> dict:
    """Complexity and route after the rubric pass: kept where it agrees, else the rubric adjudication."""
    if third is None:
        agreement["unchecked"] += 1
        return row
    agreement["checked"] += 1
    agree = {f: row[f] == third[f] for f in RUBRIC_FIELDS}
    for f in RUBRIC_FIELDS:
        agreement[f"{f}_agree"] += agree[f]
    if all(agree.values()):
        return row
    if adjudicated is None:
        agreement["unresolved"] += 1
        return row
    agreement["adjudicated"] += 1
    agreement["changed"] += any(row[f] != adjudicated[f] for f in RUBRIC_FIELDS)
    return row | {f: adjudicated[f] for f in RUBRIC_FIELDS}


def normalised(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def without_repeats(rows: list[dict], earlier: list[dict]) -> tuple[list[dict], int]:
    """Drop a later part's row whose prompt repeats an earlier one (case and spacing aside): a
    writer who happens to type a held-out prompt again must not put it in training."""
    seen = {normalised(r["prompt"]) for r in earlier}
    kept = []
    for row in rows:
        key = normalised(row["prompt"])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept, len(rows) - len(kept)


def build() -> None:
    adjudicated = {r["id"]: r for path in sorted(BLIND.glob("*.adjudicated.jsonl")) for r in read(path)}
    third = {r["id"]: r for path in sorted(RUBRIC.glob("chunk*.labels.jsonl")) for r in read(path)}
    third_adjudicated = {r["id"]: r for path in sorted(RUBRIC.glob("chunk*.adjudicated.jsonl")) for r in read(path)}
    main_rows, style_rows, extra_rows = [], [], []
    agreement: Counter = Counter()
    style_agreement: Counter = Counter()
    extra_agreement: Counter = Counter()
    rubric_agreement: Counter = Counter()
    for raw in sorted(RAW.glob("*.jsonl")):
        second = {r["id"]: r for r in read(BLIND / f"{raw.stem}.labels.jsonl")}
        train_only = raw.stem in TRAIN_ONLY_PARTS
        if train_only and not second:
            print(f"{raw.stem}: skipped until its blind pass is written", file=sys.stderr)
            continue
        if raw.stem == "style2":
            target, counter = style_rows, style_agreement
        elif train_only:
            target, counter = extra_rows, extra_agreement
        else:
            target, counter = main_rows, agreement
        for first in read(raw):
            row = resolve(first, second.get(first["id"]), adjudicated.get(first["id"]), counter)
            if not train_only:
                row = apply_rubric(row, third.get(row["id"]), third_adjudicated.get(row["id"]), rubric_agreement)
            target.append(row)
    train, dev, held = stratified_split(main_rows, (0.12, 0.15))
    extra_rows, repeats = without_repeats(extra_rows, main_rows + style_rows)
    extra_train, extra_dev, _ = stratified_split(extra_rows, (0.15, 0.0))
    train, dev = train + extra_train, dev + extra_dev
    keep = ("id", "prompt", "intent", "complexity", "route", "missing", "missing_kinds", "style")
    for name, rows in (("train", train), ("dev", dev), ("heldout", held), ("heldout_style2", style_rows)):
        write(DATA / f"{name}.jsonl", [{k: r[k] for k in keep if k in r} for r in rows])

    def rate(counter: Counter, key: str) -> float:
        return round(counter[key] / counter["checked"], 4) if counter["checked"] else 0.0

    def summary(counter: Counter, fields: tuple[str, ...]) -> dict:
        extra = ("adjudicated", "unresolved", "changed") if "changed" in counter else ("adjudicated", "unresolved")
        return {"checked": counter["checked"], **{f: rate(counter, f"{f}_agree") for f in fields}, **{k: counter[k] for k in extra}}

    stats = {
        "total": len(main_rows),
        "splits": {"train": len(train), "dev": len(dev), "heldout": len(held), "heldout_style2": len(style_rows), "train_only_parts": len(extra_rows), "train_only_repeats_dropped": repeats},
        "intent": dict(Counter(r["intent"] for r in main_rows).most_common()),
        "complexity": dict(Counter(r["complexity"] for r in main_rows).most_common()),
        "route": dict(Counter(r["route"] for r in main_rows).most_common()),
        "missing_kinds": dict(Counter(k for r in main_rows for k in r.get("missing_kinds", [])).most_common()),
        "with_missing": sum(1 for r in main_rows if r.get("missing_kinds")),
        "style": dict(Counter(r.get("style", "other") for r in main_rows).most_common()),
        "style2_intent": dict(Counter(r["intent"] for r in style_rows).most_common()),
        "style2_complexity": dict(Counter(r["complexity"] for r in style_rows).most_common()),
        "train_only_intent": dict(Counter(r["intent"] for r in extra_rows).most_common()),
        "agreement": summary(agreement, (*FIELDS, "missing", "all")) | {"unchecked": agreement["unchecked"]},
        "agreement_style2": summary(style_agreement, (*FIELDS, "missing", "all")),
        "agreement_train_only": summary(extra_agreement, (*FIELDS, "missing", "all")),
        "agreement_rubric_pass": summary(rubric_agreement, RUBRIC_FIELDS) | {"unchecked": rubric_agreement["unchecked"]},
    }
    (DATA / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    stages = {"blind": blind, "disagreements": disagreements, "rubric": rubric, "rubric-disagreements": rubric_disagreements, "build": build}
    stages[sys.argv[1] if len(sys.argv) > 1 else "build"]()
