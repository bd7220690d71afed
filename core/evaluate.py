"""Evaluation of a triage backend on labelled JSONL (the format in data/FORMAT.md).

Metrics: schema validity, intent / complexity / route accuracy, per-intent accuracy, intent
macro-F1, missing-kind precision and recall (micro and per kind), expected calibration error
of each head's confidence (10 equal-width bins), and confusion matrices for intent, complexity
and route. Rows where the configured backend fell back to another count as schema-invalid and
are reported separately.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .errors import DevrouteError
from .schema import COMPLEXITIES, INTENTS, MISSING_KINDS, ROUTES, DevRouterTriage, Triage
from .triage.devrouter_format import FALLBACK_DIAGNOSTIC
from .triage.missing import classify_missing_text


class LabelledPrompt(BaseModel):
    id: str = ""
    prompt: str
    intent: str
    complexity: str
    route: str
    missing: list[str] = []
    missing_kinds: list[str] = []


class EvalReport(BaseModel):
    data: str
    backend: str
    n: int
    fallbacks: int
    schema_validity: float
    intent_accuracy: float
    complexity_accuracy: float
    route_accuracy: float
    intent_macro_f1: float
    per_intent_accuracy: dict[str, float]
    missing_precision: float
    missing_recall: float
    missing_per_kind: dict[str, dict[str, float]]
    intent_ece: float
    complexity_ece: float
    route_ece: float
    confusion: dict[str, dict[str, int]]
    complexity_confusion: dict[str, dict[str, int]]
    route_confusion: dict[str, dict[str, int]]
    seconds: float

    def text(self) -> str:
        fell_back = f", {self.fallbacks} fell back" if self.fallbacks else ""
        lines = [
            f"data               {self.data} ({self.n} prompts, backend {self.backend}{fell_back}, {self.seconds:.1f} s)",
            f"schema validity    {self.schema_validity:.3f}",
            f"intent accuracy    {self.intent_accuracy:.3f}   (macro-F1 {self.intent_macro_f1:.3f}, ECE {self.intent_ece:.3f})",
            f"complexity acc.    {self.complexity_accuracy:.3f}   (ECE {self.complexity_ece:.3f})",
            f"route accuracy     {self.route_accuracy:.3f}   (ECE {self.route_ece:.3f})",
            f"missing kinds      precision {self.missing_precision:.3f} · recall {self.missing_recall:.3f}",
            "",
            "per-intent accuracy",
            *(f"  {k:<14} {v:.3f}" for k, v in self.per_intent_accuracy.items()),
            "",
            "missing kind        precision  recall  support",
            *(f"  {k:<17} {v['precision']:9.3f} {v['recall']:7.3f} {int(v['support']):8d}" for k, v in self.missing_per_kind.items()),
            "",
        ]
        for title, matrix, labels, width in (
            ("intent", self.confusion, INTENTS, 5),
            ("complexity", self.complexity_confusion, COMPLEXITIES, 6),
            ("route", self.route_confusion, ROUTES, 11),
        ):
            lines += ["", f"{title} confusion (rows = labelled, columns = predicted)"]
            lines.append("  " + " " * 14 + " ".join(f"{label[:width]:>{width}}" for label in labels))
            for gold in labels:
                row = matrix.get(gold, {})
                lines.append(f"  {gold:<14}" + " ".join(f"{row.get(p, 0):{width}d}" for p in labels))
        return "\n".join(lines)


def load_labelled(path: Path, limit: int | None = None) -> list[LabelledPrompt]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DevrouteError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(LabelledPrompt.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise DevrouteError(f"{path}:{number}: not a labelled prompt ({str(exc).splitlines()[0]})") from None
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise DevrouteError(f"{path}: no labelled prompts")
    return rows


def _ece(confidences: list[float], correct: list[bool], bins: int = 10) -> float:
    total = len(confidences)
    error = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if (lo < c <= hi) or (b == 0 and c == 0)]
        if idx:
            acc = sum(correct[i] for i in idx) / len(idx)
            conf = sum(confidences[i] for i in idx) / len(idx)
            error += len(idx) / total * abs(acc - conf)
    return error


def _kinds(triage: Triage) -> set[str]:
    if triage.missing_items:
        return {item.kind.value for item in triage.missing_items}
    return {k.value for k in (classify_missing_text(m) for m in triage.missing) if k is not None}


def _confusion(labels: tuple[str, ...], gold: list[str], predicted: list[str]) -> dict[str, dict[str, int]]:
    matrix = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, predicted):
        matrix[g][p] += 1
    return matrix


def fell_back(triage: Triage) -> bool:
    """The configured backend failed on this prompt and another one answered."""
    return any(d.startswith(FALLBACK_DIAGNOSTIC) for d in triage.diagnostics)


def is_schema_valid(triage: Triage) -> bool:
    """A result counts as valid when the backend itself produced parseable DevRouter output."""
    if fell_back(triage):
        return False
    try:
        DevRouterTriage.model_validate(triage.devrouter().model_dump())
    except ValidationError:
        return False
    return True


def evaluate(router, rows: list[LabelledPrompt], data_name: str) -> EvalReport:
    started = time.perf_counter()
    results = router.triage_batch([r.prompt for r in rows])
    n = len(rows)
    intent_ok = [t.intent.value == r.intent for t, r in zip(results, rows)]
    complexity_ok = [t.complexity.value == r.complexity for t, r in zip(results, rows)]
    route_ok = [t.route.value == r.route for t, r in zip(results, rows)]
    confusion = _confusion(INTENTS, [r.intent for r in rows], [t.intent.value for t in results])
    per_intent, f1s = {}, []
    for intent in INTENTS:
        support = sum(confusion[intent].values())
        tp = confusion[intent][intent]
        predicted = sum(confusion[g][intent] for g in INTENTS)
        if support:
            per_intent[intent] = round(tp / support, 4)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        if support or predicted:
            f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    per_kind = {}
    tp_all = fp_all = fn_all = 0
    predicted_kinds = [_kinds(t) for t in results]
    for kind in MISSING_KINDS:
        tp = sum(1 for p, r in zip(predicted_kinds, rows) if kind in p and kind in r.missing_kinds)
        fp = sum(1 for p, r in zip(predicted_kinds, rows) if kind in p and kind not in r.missing_kinds)
        fn = sum(1 for p, r in zip(predicted_kinds, rows) if kind not in p and kind in r.missing_kinds)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        per_kind[kind] = {
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "support": float(tp + fn),
        }
    def confidences(head: str) -> list[float]:
        return [t.confidence.get(head, 1.0) for t in results]

    return EvalReport(
        data=data_name,
        backend=router.backend.name,
        n=n,
        fallbacks=sum(fell_back(t) for t in results),
        schema_validity=round(sum(is_schema_valid(t) for t in results) / n, 4),
        intent_accuracy=round(sum(intent_ok) / n, 4),
        complexity_accuracy=round(sum(complexity_ok) / n, 4),
        route_accuracy=round(sum(route_ok) / n, 4),
        intent_macro_f1=round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        per_intent_accuracy=per_intent,
        missing_precision=round(tp_all / (tp_all + fp_all), 4) if tp_all + fp_all else 0.0,
        missing_recall=round(tp_all / (tp_all + fn_all), 4) if tp_all + fn_all else 0.0,
        missing_per_kind=per_kind,
        intent_ece=round(_ece(confidences("intent"), intent_ok), 4),
        complexity_ece=round(_ece(confidences("complexity"), complexity_ok), 4),
        route_ece=round(_ece(confidences("route"), route_ok), 4),
        confusion=confusion,
        complexity_confusion=_confusion(COMPLEXITIES, [r.complexity for r in rows], [t.complexity.value for t in results]),
        route_confusion=_confusion(ROUTES, [r.route for r in rows], [t.route.value for t in results]),
        seconds=round(time.perf_counter() - started, 2),
    )


def evaluate_file(router, path: Path, limit: int | None = None) -> EvalReport:
    return evaluate(router, load_labelled(path, limit), str(path))
