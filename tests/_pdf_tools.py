"""What the PDF tests need from the system: poppler's tools and Chromium.

`python3 workbook.py test` installs them; a bare `pytest` on a machine without
them skips those modules, except in CI, where their absence is a failure.
"""
import os
import shutil

import pytest

from workbook_tools.report import ReportError
from workbook_tools.report.browser import find_chromium


def chromium():
    """Chromium's path, or None."""
    try:
        return find_chromium()
    except ReportError:
        return None


def needs(*tools):
    """A module's ``pytestmark``: the mark that skips it here when a tool is missing (never in CI)."""
    missing = [t for t in tools if not shutil.which(t)] + ([] if chromium() else ["chromium"])
    if missing and not os.environ.get("CI"):
        return pytest.mark.skip(reason=f"needs poppler-utils and Chromium (missing: {', '.join(missing)});"
                                       " `python3 workbook.py test` installs them")
    return []
