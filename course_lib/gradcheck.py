"""Finite-difference gradient checks: does a hand-written gradient match the loss? (notebook 01)

Central differences (f(x + h) - f(x - h)) / 2h have an error of order h²; in
float64 with h = 1e-6 a correct gradient agrees to about 1e-9, a wrong one to
order 1. The verdict passes below 1e-6, and never when a value is NaN or infinite.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .init import as_rng
from .validate import positive_number, whole_number

#: A correct float64 gradient agrees with central differences far below this.
TOLERANCE = 1e-6


def rel_error(a, b) -> float:
    """‖a - b‖ / (‖a‖ + ‖b‖); 0 when both are 0, infinite when either holds NaN or inf.

    Normalising by the norms (not entry by entry) keeps entries that are nearly 0
    in both from looking like large relative errors.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.inf
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0


def numerical_gradient(f, x, h: float = 1e-6, indices=None):
    """Central differences of ``f()`` (no arguments; it reads ``x``) for entries of ``x``.

    ``x`` is changed in place and restored. ``indices`` (index tuples) limits the
    work to those entries; the others stay 0 in the result.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 values, got {x.dtype}; use model.astype(np.float64)")
    h = positive_number("h", h)  # every estimate divides by 2h
    grad = np.zeros_like(x)
    for i in (np.ndindex(x.shape) if indices is None else indices):
        old = x[i]
        try:
            x[i] = old + h
            up = f()
            x[i] = old - h
            down = f()
        finally:
            x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


@dataclass
class GradCheck:
    """Relative error of each analytic gradient against central differences, and a verdict."""

    errors: dict
    tolerance: float = TOLERANCE

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return all(e < self.tolerance for e in self.errors.values())  # NaN and inf fail

    def __bool__(self):
        return self.ok

    def __str__(self):
        width = max((len(k) for k in self.errors), default=4)
        lines = [f"{name:<{width}}  relative error {err:.2e}  "
                 + ("ok" if err < self.tolerance else "WRONG" if math.isfinite(err) else "WRONG (NaN or inf)")
                 for name, err in self.errors.items()]
        verdict = ("PASS: analytic and numerical gradients agree" if self.ok else
                   "FAIL: some gradients disagree with finite differences; check the backward pass")
        lines.append(f"{verdict} (largest relative error {self.max_error:.2e}, tolerance {self.tolerance:.0e})")
        return "\n".join(lines)

    __repr__ = __str__


def check_function(f, df, x, h: float = 1e-6) -> GradCheck:
    """Check an elementwise derivative ``df`` of ``f`` at the points ``x``."""
    x, h = np.array(x, dtype=np.float64), positive_number("h", h)
    numeric = (f(x + h) - f(x - h)) / (2 * h)
    return GradCheck({getattr(f, "__name__", "f"): rel_error(df(x), numeric)})


def check_scalar_function(loss_and_grad, x, h: float = 1e-6) -> GradCheck:
    """Check ``loss_and_grad(x) -> (loss, dloss/dx)`` for a scalar loss of an array ``x``."""
    x = np.array(x, dtype=np.float64)
    _, analytic = loss_and_grad(x)
    numeric = numerical_gradient(lambda: loss_and_grad(x)[0], x, h)
    return GradCheck({"x": rel_error(analytic, numeric)})


def check_model(model, X, y, *, l2: float = 0.0, h: float = 1e-6, samples=None, rng=None) -> GradCheck:
    """Check every parameter gradient of ``model`` on a (small) batch ``X, y``.

    A large network has too many weights to perturb one by one: ``samples=n``
    checks ``n`` entries of each parameter, drawn with ``rng``.
    """
    h = positive_number("h", h)  # here too: checked before the passes below change the gradients
    samples = None if samples is None else whole_number("samples", samples)  # 0 would check nothing and pass
    model.forward_backward(X, y, l2)
    analytic = {name: g.copy() for name, g in model.grads.items()}
    loss = lambda: model.loss(X, y, l2)  # noqa: E731
    errors = {}
    for name, p in model.params.items():
        if samples is None or samples >= p.size:
            errors[name] = rel_error(analytic[name], numerical_gradient(loss, p, h))
        else:
            idx = [np.unravel_index(i, p.shape) for i in as_rng(rng).choice(p.size, samples, replace=False)]
            numeric = numerical_gradient(loss, p, h, idx)
            errors[name] = rel_error([analytic[name][i] for i in idx], [numeric[i] for i in idx])
    return GradCheck(errors)
