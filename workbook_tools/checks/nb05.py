"""Checks for notebook 05, the VU course's experiments.

The probe callback is run inside course_lib's trainer on a small problem and
compared with evaluations of the weights after each epoch; the summary of runs
with numpy's mean and population standard deviation (the course's ddof = 0).
"""
from __future__ import annotations

import numpy as np

import course_lib as cl

from .core import Exercise, Wrong, compare

_rng = np.random.default_rng(55)
X = _rng.standard_normal((120, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)


class _Snapshots(cl.Callback):
    def __init__(self):
        self.after_epoch, self.during = [], []

    def on_step_end(self, loop):
        self.during.append(cl.evaluate(loop.model, X[:30], Y[:30]))

    def on_epoch_end(self, loop):
        self.after_epoch.append(cl.evaluate(loop.model, X[:30], Y[:30]))


def verify_probe(TrainingSetProbe):
    probe, truth = TrainingSetProbe(X[:30], Y[:30]), _Snapshots()
    cl.train(cl.mlp([4, 6, 3], rng=0), (X, Y), lr=0.3, epochs=3, batch_size=10, rng=0, callbacks=[probe, truth])
    for name in ("loss", "acc"):
        if not hasattr(probe, name) or len(getattr(probe, name)) != 3:
            raise Wrong(f"after 3 epochs probe.{name} should hold 3 values, got "
                        f"{len(getattr(probe, name, []))}",
                        "append one value per epoch, in on_epoch_end(self, loop), to self.loss and self.acc")
    want_loss, want_acc = (list(v) for v in zip(*truth.after_epoch))
    compare("probe.loss", probe.loss, want_loss, rtol=1e-12, hints=[
        ([truth.during[k * 12 - 1][0] for k in (1, 2, 3)], "measure with cl.evaluate(loop.model, ...) on the probe's"
                                                          " own X and y")],
        otherwise="in on_epoch_end, evaluate loop.model on the training sample the probe was given:"
                  " loss, acc = cl.evaluate(loop.model, self.X, self.y)")
    compare("probe.acc", probe.acc, want_acc, rtol=1e-12)
    return "one loss and accuracy per epoch, measured with the weights at the end of each epoch"


def verify_mean_and_spread(mean_and_spread):
    curves = np.random.default_rng(56).normal(0.5, 0.05, (5, 4))
    got = mean_and_spread(curves)
    if not isinstance(got, tuple) or len(got) != 2:
        raise Wrong("mean_and_spread should return a pair (mean, std)", "return curves.mean(axis=0), curves.std(axis=0)")
    mean, std = got
    compare("the mean", mean, curves.mean(axis=0), hints=[
        (curves.mean(axis=1), "average over the runs (axis 0: one row per run), giving one value per epoch"),
        (curves.mean(), "one mean per epoch, over the runs: axis=0")])
    compare("the standard deviation", std, curves.std(axis=0), hints=[
        (curves.std(axis=0, ddof=1), "the course reports the population standard deviation (ddof=0, numpy's"
                                     " default), not the sample one"),
        (curves.var(axis=0), "the standard deviation is the square root of the variance"),
        (curves.std(axis=1), "over the runs: axis=0")])
    return "the mean and the population standard deviation over the runs, one of each per epoch"


class _Probe(cl.Callback):
    def __init__(self, X, y):
        self.X, self.y, self.loss, self.acc = X, y, [], []

    def on_epoch_end(self, loop):
        loss, acc = cl.evaluate(loop.model, self.X, self.y)
        self.loss.append(loss)
        self.acc.append(acc)


EXERCISES = [
    Exercise("5.1", ["VU-14"], "a probe of the training set after each epoch", verify_probe, _Probe,
             "the library's version"),
    Exercise("5.3", ["VU-15"], "mean and spread over runs", verify_mean_and_spread,
             lambda curves: (np.mean(curves, axis=0), np.std(curves, axis=0)), "numpy's mean and std"),
]
