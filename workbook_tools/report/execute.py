"""Running a copy of a notebook before it is exported (``--execute``)."""
from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

from .errors import ReportError


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _cell_label(nb, index: int) -> str:
    cell = nb.cells[index]
    code_no = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
    first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"cell {index + 1} (code cell {code_no}: {first!r})"


def _tracking_preprocessor():
    """An ExecutePreprocessor that remembers the cell it runs and logs the kernel to a file."""
    from nbconvert.preprocessors import ExecutePreprocessor

    class Tracking(ExecutePreprocessor):
        current = -1
        kernel_log = None

        def start_new_kernel(self, **kwargs):
            # The kernel's own chatter (and its traceback when it is killed on a
            # timeout) goes to a log file, quoted only when the kernel dies.
            kwargs.setdefault("stderr", self.kernel_log)
            kwargs.setdefault("stdout", self.kernel_log)
            return super().start_new_kernel(**kwargs)

        def preprocess_cell(self, cell, resources, index):
            self.current = index
            return super().preprocess_cell(cell, resources, index)

    return Tracking


def _last_words(log) -> str:
    log.seek(0)
    tail = [ln for ln in log.read().decode("utf-8", "replace").splitlines()
            if ln.strip() and "without encryption" not in ln][-5:]
    return "; its last words:\n  " + "\n  ".join(tail) if tail else ""


def execute_notebook(nb, cwd: Path, timeout: int = 600):
    """Run a copy of ``nb`` in a fresh kernel, working directory ``cwd``; return the copy."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = copy.deepcopy(nb)
    ep = _tracking_preprocessor()(timeout=timeout,
                                  kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"))
    with tempfile.TemporaryFile(mode="w+b") as log:
        ep.kernel_log = log
        where = lambda: _cell_label(nb, ep.current) if ep.current >= 0 else "a cell"  # noqa: E731
        try:
            ep.preprocess(nb, {"metadata": {"path": str(cwd)}})
        except CellExecutionError as e:
            raise ReportError(f"executing the notebook failed in {where()}: "
                              f"{e.ename}: {_strip_ansi(str(e.evalue))}") from None
        except CellTimeoutError:
            raise ReportError(f"executing the notebook timed out: {where()} ran longer than {timeout} s "
                              "(raise --timeout)") from None
        except DeadKernelError:
            raise ReportError(f"the kernel died while executing {where()}{_last_words(log)}") from None
        except NoSuchKernel as e:
            raise ReportError(f"kernel {e.args[0] if e.args else ''!s} not found: install it with "
                              "`pip install ipykernel` in the environment that runs the export") from None
    return nb
