"""Shared test set-up.

The tests use the MNIST copy beside the checkout (``../shared/data/mnist``) when
``WORKBOOK_MNIST_DIR`` is not set, so nothing is downloaded in CI.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_shared = ROOT.parent / "shared" / "data" / "mnist"
if "WORKBOOK_MNIST_DIR" not in os.environ and _shared.is_dir():
    os.environ["WORKBOOK_MNIST_DIR"] = str(_shared)
