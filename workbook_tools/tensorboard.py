"""The monitor's statistics as TensorBoard event files, the way practitioners watch training.

Needs ``tensorboardX`` (``pip install -e '.[tensorboard]'``, which also installs the
``tensorboard`` viewer)::

    from workbook_tools.tensorboard import TensorBoardMonitor
    tb = TensorBoardMonitor("runs/cnn", probe=X_val[:500], every=100, val=(X_val, y_val), test=(X_test, y_test))
    cl.train(net, (X_train, y_train), optimizer=cl.Adam(1e-3), callbacks=[tb])
    tb.close()

then ``tensorboard --logdir runs`` in a terminal and open http://localhost:6006.
Scalars: ``loss/train`` every step, ``<name>/min|max|mean|std`` and ``error/val|test``;
histograms: one per parameter, net input and activation (names as in
:func:`workbook_tools.monitor.layer_names`). The notebook's own figures come from
:class:`~workbook_tools.monitor.Monitor` and need none of this.
"""
from __future__ import annotations

from .monitor import STATS, Monitor


def _summary_writer():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("writing TensorBoard files needs tensorboardX: pip install -e '.[tensorboard]'"
                          " (or pip install tensorboardX)") from None
    return SummaryWriter


class TensorBoardMonitor(Monitor):
    """A :class:`~workbook_tools.monitor.Monitor` that also writes everything it records to ``logdir``."""

    def __init__(self, logdir, probe, **options):
        super().__init__(probe, **options)
        self.writer = _summary_writer()(logdir=str(logdir))
        self.logdir = self.writer.logdir

    def on_step_end(self, loop):
        self.writer.add_scalar("loss/train", loop.history.loss[-1], loop.step)
        super().on_step_end(loop)

    def on_train_end(self, loop):
        self.writer.flush()

    def write(self, name, values, summary, step):
        for stat in STATS:
            self.writer.add_scalar(f"{name}/{stat}", summary[stat], step)
        self.writer.add_histogram(name, values.ravel(), step)

    def write_scalar(self, tag, value, step):
        self.writer.add_scalar(tag, value, step)

    def close(self):
        self.writer.close()
