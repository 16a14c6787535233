"""Exercise checks: ``wt.check("2.3", backward)`` after every exercise of the notebooks.

One module per notebook (``nb01``, ``nb02``, ...) defines its exercises; this
package finds an exercise by its ID. A check displays ✓ with what it verified,
✗ with what is wrong and a hint, or "not attempted yet" for a stub, and returns
what the cells below should use: your answer once it passes, the library's
version until then.
"""
from __future__ import annotations

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08
from .core import FAILED, NOT_ATTEMPTED, PASSED, Exercise, Result, Wrong

EXERCISES = {e.id: e for module in (nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08) for e in module.EXERCISES}


def check(exercise: str, answer):
    """Check ``answer`` to the exercise with this ID; returns what later cells should use."""
    try:
        found = EXERCISES[str(exercise)]
    except KeyError:
        raise ValueError(f"there is no exercise {exercise!r}; the exercises are {', '.join(EXERCISES)}") from None
    return found(answer)


__all__ = ["EXERCISES", "Exercise", "FAILED", "NOT_ATTEMPTED", "PASSED", "Result", "Wrong", "check"]
