"""Train the builtin backend's heads on data/train.jsonl (dev split for early stopping and calibration).

    pip install -e ".[train]" && python scripts/train_heads.py      # writes models/heads.npz

One shared hidden layer over [MiniLM embedding ; standardised handcrafted features], four
outputs (intent, complexity, route softmax; missing kinds sigmoid), trained jointly with
AdamW under a fixed seed; an ensemble of such MLPs folded into one. Beside it, a logistic
regression per softmax head over word n-gram TF-IDF (core/triage/ngrams.py). Then, on the dev
split: a temperature per softmax head and per missing kind (temperature scaling, minimising
negative log-likelihood), the weight mixing each head's n-gram probabilities into the
embedding head's (maximising accuracy) and a temperature for the mixture, and a decision
threshold per missing kind (maximising F1). The held-out splits are never read here.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devroute.core.features import FEATURE_DIM, extract_features  # noqa: E402
from devroute.core.schema import COMPLEXITIES, INTENTS, MISSING_KINDS, ROUTES  # noqa: E402
from devroute.core.triage.encoder import SentenceEncoder  # noqa: E402
from devroute.core.triage.heads import log_probabilities, mix_probabilities, pack_vocabulary, softmax  # noqa: E402
from devroute.core.triage.ngrams import TOKEN, NgramTfidf  # noqa: E402

SEED = 20261121
HIDDEN = 256
NGRAM_VOCABULARY = 30000
NGRAM_C = 5.0
MIX_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def feature_matrix(prompts: list[str]) -> np.ndarray:
    """The handcrafted feature vector of each prompt, one row per prompt."""
    return np.stack([extract_features(p).vector() for p in prompts]).astype(np.float32)


def encode(rows: list[dict], encoder: SentenceEncoder) -> tuple[np.ndarray, np.ndarray]:
    prompts = [r["prompt"] for r in rows]
    return encoder.embed(prompts), feature_matrix(prompts)


def targets(rows: list[dict]) -> dict[str, np.ndarray]:
    missing = np.zeros((len(rows), len(MISSING_KINDS)), dtype=np.float32)
    for i, r in enumerate(rows):
        for kind in r.get("missing_kinds", []):
            missing[i, MISSING_KINDS.index(kind)] = 1.0
    return {
        "intent": np.array([INTENTS.index(r["intent"]) for r in rows]),
        "complexity": np.array([COMPLEXITIES.index(r["complexity"]) for r in rows]),
        "route": np.array([ROUTES.index(r["route"]) for r in rows]),
        "missing": missing,
    }


def output_layers() -> torch.nn.ModuleDict:  # noqa: F821 (torch is imported inside: only training needs it)
    """The four outputs over the shared hidden layer, in the order of the shipped heads."""
    import torch

    sizes = {"intent": len(INTENTS), "complexity": len(COMPLEXITIES), "route": len(ROUTES), "missing": len(MISSING_KINDS)}
    return torch.nn.ModuleDict({name: torch.nn.Linear(HIDDEN, size) for name, size in sizes.items()})


def fit_temperature(logits: np.ndarray, labels: np.ndarray, binary: bool = False) -> float:
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 200)):
        z = logits / t
        if binary:
            p = 1 / (1 + np.exp(-z))
            nll = -np.mean(labels * np.log(p + 1e-9) + (1 - labels) * np.log(1 - p + 1e-9))
        else:
            z = z - z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            nll = -np.mean(logp[np.arange(len(labels)), labels])
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def fit_ngram_heads(train_rows: list[dict], dev_rows: list[dict]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """TF-IDF over word uni- and bigrams and one logistic regression per softmax head.

    Returns the weights to ship and the dev-split logits, computed by the runtime transform
    after checking it against scikit-learn's on the dev prompts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(lowercase=True, token_pattern=TOKEN.pattern, ngram_range=(1, 2), min_df=2,
                                 sublinear_tf=True, max_features=NGRAM_VOCABULARY, dtype=np.float32)
    x_train = vectorizer.fit_transform([r["prompt"] for r in train_rows])
    vocabulary = vectorizer.get_feature_names_out().tolist()
    runtime = NgramTfidf(vocabulary, vectorizer.idf_)
    dev_prompts = [r["prompt"] for r in dev_rows]
    x_dev = runtime.transform(dev_prompts)
    assert np.allclose(x_dev, vectorizer.transform(dev_prompts).toarray(), atol=1e-5), "runtime TF-IDF differs from scikit-learn's"
    weights: dict[str, np.ndarray] = {"ngram_vocab": pack_vocabulary(vocabulary), "ngram_idf": vectorizer.idf_.astype(np.float32)}
    dev_logits = {}
    y_train = targets(train_rows)
    for name in ("intent", "complexity", "route"):
        model = LogisticRegression(C=NGRAM_C, max_iter=5000).fit(x_train, y_train[name])
        assert list(model.classes_) == list(range(model.coef_.shape[0]))
        weights[f"ngram_{name}_W"] = model.coef_.T.astype(np.float32)
        weights[f"ngram_{name}_b"] = model.intercept_.astype(np.float32)
        dev_logits[name] = runtime.linear(dev_prompts, weights[f"ngram_{name}_W"], weights[f"ngram_{name}_b"])
    return weights, dev_logits


def best_mix(embedding_probs: np.ndarray, ngram_probs: np.ndarray, labels: np.ndarray) -> float:
    """Mixing weight with the best dev accuracy; ties go to the smaller n-gram share."""
    scores = [np.mean(mix_probabilities(embedding_probs, ngram_probs, w).argmax(axis=1) == labels) for w in MIX_WEIGHTS]
    return MIX_WEIGHTS[int(np.argmax(scores))]


def best_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for threshold in np.linspace(0.2, 0.8, 25):
        pred = probs >= threshold
        tp = float(np.sum(pred & (labels > 0.5)))
        fp = float(np.sum(pred & (labels < 0.5)))
        fn = float(np.sum(~pred & (labels > 0.5)))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=ROOT / "data" / "train.jsonl")
    parser.add_argument("--dev", type=Path, default=ROOT / "data" / "dev.jsonl")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--ensemble", type=int, default=5, help="members averaged into the shipped heads")
    parser.add_argument("--no-ngrams", dest="ngrams", action="store_false", help="embedding heads only")
    args = parser.parse_args()

    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    encoder = SentenceEncoder(args.models / "encoder.int8.onnx", args.models / "tokenizer.json")
    train_rows, dev_rows = load(args.train), load(args.dev)
    train_emb, train_feat = encode(train_rows, encoder)
    dev_emb, dev_feat = encode(dev_rows, encoder)
    mean = train_feat.mean(axis=0)
    std = train_feat.std(axis=0) + 1e-3

    def inputs(emb: np.ndarray, feat: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([emb, (feat - mean) / std], axis=1).astype(np.float32))

    x_train, x_dev = inputs(train_emb, train_feat), inputs(dev_emb, dev_feat)
    y_train, y_dev = targets(train_rows), targets(dev_rows)
    yt = {k: torch.from_numpy(v) for k, v in y_train.items()}

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = torch.nn.Linear(x_train.shape[1], HIDDEN)
            self.drop = torch.nn.Dropout(0.3)
            self.out = output_layers()

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            h = self.drop(torch.relu(self.hidden(self.drop_in(x))))
            return {name: layer(h) for name, layer in self.out.items()}

        def drop_in(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.dropout(x, 0.1, self.training)

    def train_one(seed: int) -> tuple[Net, dict[str, float], int]:
        torch.manual_seed(seed)
        net = Net()
        optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
        ce = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
        bce = torch.nn.BCEWithLogitsLoss()
        generator = torch.Generator().manual_seed(seed)
        best_score, best_state, best_epoch, best_accs = -1.0, None, 0, {}
        for epoch in range(args.epochs):
            net.train()
            order = torch.randperm(len(x_train), generator=generator)
            for start in range(0, len(order), 64):
                idx = order[start : start + 64]
                out = net(x_train[idx])
                loss = (ce(out["intent"], yt["intent"][idx]) + ce(out["complexity"], yt["complexity"][idx])
                        + ce(out["route"], yt["route"][idx]) + 0.5 * bce(out["missing"], yt["missing"][idx]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            net.eval()
            with torch.no_grad():
                dev_out = {k: v.numpy() for k, v in net(x_dev).items()}
            accs = {k: float(np.mean(dev_out[k].argmax(axis=1) == y_dev[k])) for k in ("intent", "complexity", "route")}
            score = accs["intent"] + accs["complexity"] + accs["route"]
            if score > best_score:
                best_score, best_epoch, best_accs = score, epoch, accs
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            if epoch - best_epoch > 25:
                break
        net.load_state_dict(best_state)
        net.eval()
        return net, best_accs, best_epoch

    # An ensemble of same-shaped MLPs averages its logits, which is exactly one wider MLP whose
    # output weights are stacked and divided by the member count: the runtime format is unchanged.
    members = [train_one(SEED + k) for k in range(args.ensemble)]
    nets = [m[0] for m in members]
    hidden_W = np.concatenate([n.hidden.weight.detach().numpy().T for n in nets], axis=1)
    hidden_b = np.concatenate([n.hidden.bias.detach().numpy() for n in nets])
    heads_W = {name: np.concatenate([n.out[name].weight.detach().numpy().T for n in nets], axis=0) / len(nets) for name in nets[0].out}
    heads_b = {name: np.mean([n.out[name].bias.detach().numpy() for n in nets], axis=0) for name in nets[0].out}

    def merged_logits(x: np.ndarray) -> dict[str, np.ndarray]:
        h = np.maximum(x @ hidden_W + hidden_b, 0.0)
        return {name: h @ heads_W[name] + heads_b[name] for name in heads_W}

    dev_out = merged_logits(x_dev.numpy())
    best_accs = {k: float(np.mean(dev_out[k].argmax(axis=1) == y_dev[k])) for k in ("intent", "complexity", "route")}
    best_epoch = [m[2] for m in members]

    weights: dict[str, np.ndarray] = {
        "feature_mean": mean.astype(np.float32),
        "feature_std": std.astype(np.float32),
        "hidden_W": hidden_W.astype(np.float32),
        "hidden_b": hidden_b.astype(np.float32),
    }
    for name in heads_W:
        weights[f"{name}_W"] = heads_W[name].astype(np.float32)
        weights[f"{name}_b"] = heads_b[name].astype(np.float32)
    ngram_weights, ngram_dev_logits = {}, {}
    if args.ngrams:
        ngram_weights, ngram_dev_logits = fit_ngram_heads(train_rows, dev_rows)
    weights |= ngram_weights
    mixes = {}
    for name in ("intent", "complexity", "route"):
        weights[f"{name}_T"] = np.float32(fit_temperature(dev_out[name], y_dev[name]))
        if args.ngrams:
            embedding_probs = softmax(dev_out[name] / weights[f"{name}_T"])
            ngram_probs = softmax(ngram_dev_logits[name])
            mixes[name] = best_mix(embedding_probs, ngram_probs, y_dev[name])
            mixed = mix_probabilities(embedding_probs, ngram_probs, mixes[name])
            weights[f"{name}_mix"] = np.float32(mixes[name])
            weights[f"{name}_mix_T"] = np.float32(fit_temperature(log_probabilities(mixed), y_dev[name]))
            best_accs[name] = float(np.mean(mixed.argmax(axis=1) == y_dev[name]))
    missing_t = np.array([fit_temperature(dev_out["missing"][:, k], y_dev["missing"][:, k], binary=True) for k in range(len(MISSING_KINDS))], dtype=np.float32)
    weights["missing_T"] = missing_t
    probs = 1 / (1 + np.exp(-dev_out["missing"] / missing_t))
    weights["missing_thresholds"] = np.array([best_threshold(probs[:, k], y_dev["missing"][:, k]) for k in range(len(MISSING_KINDS))], dtype=np.float32)
    assert weights["feature_mean"].shape[0] == FEATURE_DIM
    out_path = args.models / "heads.npz"
    np.savez(out_path, **weights)
    summary = {
        "train": len(train_rows), "dev": len(dev_rows), "best_epochs": best_epoch, "seed": SEED, "ensemble": args.ensemble,
        "dev_accuracy": {k: round(v, 4) for k, v in best_accs.items()},
        "temperatures": {k: round(float(weights[f"{k}_T"]), 3) for k in ("intent", "complexity", "route")},
        "ngram_mix": mixes,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
