"""Shipped artifacts: the candidate catalog, the ONNX encoder, tokenizer and trained heads."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
