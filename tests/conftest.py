"""Shared test set-up.

The tests use the MNIST copy beside the checkout (``../shared/data/mnist``) when
``WORKBOOK_MNIST_DIR`` is not set, so nothing is downloaded in CI.

``tests/instructor/`` (nbgrader on the solution notebooks) needs the ``instructor`` extra and is
collected only with ``--instructor``: ``python3 workbook.py test --instructor`` installs the
extra and passes it. Without the option those tests are not collected, rather than skipped.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_shared = ROOT.parent / "shared" / "data" / "mnist"
if "WORKBOOK_MNIST_DIR" not in os.environ and _shared.is_dir():
    os.environ["WORKBOOK_MNIST_DIR"] = str(_shared)


def pytest_addoption(parser):
    parser.addoption("--instructor", action="store_true",
                     help="also run tests/instructor: nbgrader on the solution notebooks (needs the instructor extra)")


def pytest_ignore_collect(collection_path, config):
    if collection_path == Path(__file__).parent / "instructor" and not config.getoption("--instructor"):
        return True
    return None
