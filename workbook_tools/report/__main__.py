"""``python -m workbook_tools.report NOTEBOOK ...``: see :mod:`workbook_tools.report.cli`."""
import sys

from .cli import main

sys.exit(main())
