"""What every exercise check shares: a verdict in plain words, with a hint when it is wrong.

An :class:`Exercise` runs the student's answer (usually a function) through its
``verify``, which either returns what it verified or raises :class:`Wrong` with
what is wrong and a hint. A stub that still raises ``NotImplementedError`` is
"not attempted yet", never a traceback. Calling the exercise displays the verdict,
records it for the start page, and returns what later cells should use: the
student's answer once it passes, the library's version until then.
"""
from __future__ import annotations

import html
import math
import traceback
from dataclasses import dataclass

import numpy as np

PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"
_MARK = {PASSED: "✓", FAILED: "✗", NOT_ATTEMPTED: "…"}
_COLOUR = {PASSED: "#1b6e20", FAILED: "#b00020", NOT_ATTEMPTED: "#555"}


class Wrong(Exception):
    """Raised by a check: ``message`` says what is wrong, ``hint`` what to look at."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message, self.hint = message, hint


@dataclass
class Result:
    """The verdict of one check."""

    exercise: str
    title: str
    status: str
    message: str
    hint: str = ""
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def text(self) -> str:
        head = f"{_MARK[self.status]} Exercise {self.exercise} ({self.title}): "
        if self.status == NOT_ATTEMPTED:
            head += "not attempted yet"
        lines = [head + (self.message if self.status != NOT_ATTEMPTED else "")]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        head, *rest = self.text().split("\n")
        body = "".join(f"<div style='margin-left:1.4em'>{html.escape(line.strip())}</div>" for line in rest)
        return (f"<div class='workbook-check workbook-check-{self.status.replace(' ', '-')}' "
                f"style='color:{_COLOUR[self.status]};line-height:1.45'><b>{html.escape(head)}</b>{body}</div>")


class Exercise:
    """One exercise: its ID (``"2.3"``), the course tasks it covers, and its check.

    verify(answer) -> str: what was verified; raises Wrong when the answer is wrong.
    fallback: what later cells use until the answer passes (None: the answer itself).
    """

    def __init__(self, id: str, tasks, title: str, verify, fallback=None, fallback_name: str = ""):
        self.id, self.tasks, self.title = id, tuple(tasks), title
        self.verify, self.fallback, self.fallback_name = verify, fallback, fallback_name

    def run(self, answer) -> Result:
        """The verdict, without displaying or recording it."""
        title = f"{self.title}, {', '.join(self.tasks)}" if self.tasks else self.title
        stand_ins = [a for a in (answer if isinstance(answer, tuple) else (answer,)) if isinstance(a, Fallback)]
        if stand_ins:
            answer = stand_ins[0]
            return Result(self.id, title, NOT_ATTEMPTED, "", f"this is still course_lib's version, in use until"
                          f" your exercise {answer.exercise} passes: do that one first")
        try:
            with np.errstate(all="ignore"):
                verified = self.verify(answer)
        except NotImplementedError:
            return Result(self.id, title, NOT_ATTEMPTED, "", "replace the `raise NotImplementedError(...)` line"
                          " with your code, run that cell, then run this one again")
        except Wrong as wrong:
            return Result(self.id, title, FAILED, wrong.message, wrong.hint)
        except Exception as exc:  # the student's code failed: say where, not a traceback
            return Result(self.id, title, FAILED, f"your code raised {type(exc).__name__}: {exc}",
                          _where(exc))
        return Result(self.id, title, PASSED, verified)

    def __call__(self, answer):
        result = self.run(answer)
        use = answer
        if not result.passed and self.fallback is not None:
            use = (tuple(Fallback(f, self.id) for f in self.fallback) if isinstance(self.fallback, tuple)
                   else Fallback(self.fallback, self.id))
            result.note = f"Until it passes, the cells below use {self.fallback_name or 'the library version'}."
        _show(result)
        from ..workspace import record_progress

        record_progress(result.exercise, result.status)
        return use


class Fallback:
    """The library's version of an exercise's function, standing in until the student's passes."""

    def __init__(self, function, exercise: str):
        self.function, self.exercise = function, exercise
        self.__doc__ = getattr(function, "__doc__", None)

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def __repr__(self):
        return f"<course_lib's version, standing in for exercise {self.exercise}>"


def _show(result):
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(result)
    else:
        print(result.text())


def _where(exc) -> str:
    """The line of the student's code that raised, from the traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "workbook_tools" not in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f"it happened in line {f.lineno}: {f.line.strip()}" if f.line else f"it happened in line {f.lineno}"


# --- comparing an answer with what it should be ------------------------------------------

def as_array(value, name: str) -> np.ndarray:
    """The answer as a float array, or Wrong saying what came back instead."""
    if value is None:
        raise Wrong(f"{name} returned None", "did you forget the `return` statement?")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Wrong(f"{name} returned {type(value).__name__}, not numbers",
                    "return a number, a list of numbers or a numpy array") from None
    return arr


def close(got, expected, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def compare(name: str, got, expected, *, rtol: float = 1e-6, atol: float = 1e-9, hints=(), otherwise: str = ""):
    """Raise Wrong unless ``got`` equals ``expected``, saying how it differs.

    ``hints`` are ``(candidate, hint)`` pairs: known wrong answers computed for the
    same input; when ``got`` matches one, its hint names the mistake. Generic
    diagnoses follow: wrong shape (transposed?), NaN, the sign flipped, a constant
    factor off; ``otherwise`` is the hint when none of them fits.
    """
    got = as_array(got, name)
    expected = np.asarray(expected, float)
    if close(got, expected, rtol, atol):
        return
    for candidate, hint in hints:
        if close(got, candidate, rtol, atol):
            raise Wrong(f"{name} is not right", hint)
    message, hint = _diagnose(name, got, expected, rtol, atol)
    raise Wrong(message, hint or otherwise)


def _diagnose(name, got, expected, rtol, atol):
    if got.shape != expected.shape:
        message = f"{name} has shape {got.shape}, expected {expected.shape}"
        if got.shape == expected.T.shape and got.ndim == 2:
            return message, "it is transposed: check the order of the factors (xᵀδ has shape (inputs, outputs))"
        if got.size == expected.size:
            return message, "the numbers may be right but arranged differently: check how you build the array"
        return message, "check which axis you sum or multiply over"
    if not np.all(np.isfinite(got)):
        return (f"{name} contains NaN or infinite values",
                "look for a division by a number that can be 0, or exp() of a large number")
    if close(got, -expected, rtol, atol):
        return f"{name} has the right size but the wrong sign", "check the sign of every term (y - t, not t - y?)"
    nonzero = np.abs(expected) > atol
    if nonzero.any() and expected.size > 1:  # one number is always "a factor" off another: no diagnosis
        ratio = got[nonzero] / expected[nonzero]
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6) and close(got, ratio.flat[0] * expected, rtol, atol):
            k = float(ratio.flat[0])
            return (f"{name} is {_factor(k)} times what it should be",
                    "a constant factor is missing or extra: check averaging over the batch and constants in the formula")
    err = float(np.linalg.norm(got - expected) / (np.linalg.norm(got) + np.linalg.norm(expected) or 1.0))
    worst = np.unravel_index(int(np.argmax(np.abs(got - expected))), got.shape) if got.ndim else ()
    where = f" (largest difference at index {worst}: {got[worst]:.6g} instead of {expected[worst]:.6g})" if got.ndim else \
        f" ({float(got):.6g} instead of {float(expected):.6g})"
    return f"{name} differs from what it should be: relative error {err:.2g}{where}", ""


def _factor(k: float) -> str:
    for n in range(2, 1025):
        if math.isclose(k, n, rel_tol=1e-6):
            return str(n)
        if math.isclose(k, 1 / n, rel_tol=1e-6):
            return f"1/{n}"
    return f"{k:.4g}"


def central_differences(f, x, h: float = 1e-6) -> np.ndarray:
    """The gradient of the scalar ``f`` at ``x`` by central differences (float64)."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad
