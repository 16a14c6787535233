"""The numbers the courses report, reproduced with their own recipes.

The Rice recipe runs in full (seconds). The VU learning-rate table is a long run
(5.5 million single-image steps): the normal test command (``WORKBOOK_QUICK=1``)
runs its quick configuration, one run of one epoch checked against the course's
first-epoch figure; ``WORKBOOK_QUICK=0 python3 workbook.py test tests/test_course_values.py``
runs the table exactly as the course did.
"""
import os

import numpy as np
import pytest

import course_lib as cl
from workbook_tools.checks.nb07 import _fit

QUICK = os.environ.get("WORKBOOK_QUICK", "1") == "1"


@pytest.fixture(scope="module")
def moons():
    from course_lib.data import course_moons

    return course_moons()


@pytest.mark.parametrize("act, hidden, course", [("tanh", 3, 0.07076), ("tanh", 100, 0.03249), ("relu", 3, 0.07122)])
def test_the_rice_recipe_reproduces_the_course(moons, act, hidden, course):
    _, losses = _fit(*moons, hidden, act)
    assert losses[19000] == pytest.approx(course, abs=1e-5)  # "loss after iteration 19000"


def test_the_rice_sigmoid_run_settles_below_the_courses_figure(moons):
    # Notebook 07 explains: the recipe settles at 0.07816; the write-up's 0.07879 is a value
    # it passes through between iterations 2,000 and 3,000.
    _, losses = _fit(*moons, 3, "sigmoid")
    assert losses[19000] == pytest.approx(0.07816, abs=1e-5)
    assert abs(losses[9000] - losses[19000]) < 1e-5
    assert losses[2000] > 0.07879 > losses[3000]


# the course's table: lr -> (validation loss, its std, validation accuracy, its std); 5 runs, U(-1, 1)
VU16 = {0.001: (0.2524, 0.005867, 0.9266, 0.002849), 0.003: (0.1871, 0.006726, 0.9459, 0.001741),
        0.01: (0.1398, 0.006714, 0.9598, 0.002621), 0.03: (0.1287, 0.006031, 0.9667, 0.002341)}
VU14_FIRST_EPOCH_VAL_LOSS = 0.222  # lr 0.01, mean of 5 runs


def _vu_run(lr, epochs, seed):
    # seed: an int or a numpy Generator (a sweep's)
    from workbook_tools import FusedTrainer, mnist_splits

    (X, y), val, _ = mnist_splits(n_val=5000, progress=False, dtype=np.float32)
    net = cl.mlp([784, 300, 10], rng=seed, activation="sigmoid", init="uniform", dtype=np.float32)
    h = FusedTrainer(net, lr=lr, epochs=epochs, batch_size=1, rng=seed).fit((X, y), val)
    return h.val_loss, h.val_acc


def _vu_table_run(lr, rng):
    loss, acc = _vu_run(lr, 5, rng)
    return {"loss": loss[-1], "acc": acc[-1]}


def test_the_vu_learning_rate_table():
    if QUICK:  # one run of the first epoch at lr 0.01, against the course's curve (VU-14)
        val_loss, _ = _vu_run(0.01, 1, seed=0)
        # one run of one epoch: seeds 0-2 give 0.197-0.222, N(0, 1) weights 0.336
        assert val_loss[0] == pytest.approx(VU14_FIRST_EPOCH_VAL_LOSS, abs=0.03)
        return
    from workbook_tools import grid, sweep

    rows = sweep(_vu_table_run, grid(lr=list(VU16)), repeats=5, seed=2024, progress=False)
    for lr, (loss, _, acc, _) in VU16.items():
        ours = [r for r in rows if r["lr"] == lr]
        assert np.mean([r["acc"] for r in ours]) == pytest.approx(acc, abs=0.01), lr
        assert np.mean([r["loss"] for r in ours]) == pytest.approx(loss, abs=0.03), lr
