"""Ready-made training callbacks."""
from __future__ import annotations

from course_lib.training import Callback


class ProgressBar(Callback):
    """A tqdm bar over the run's steps showing epoch and current loss.

    Pass ``disable=True`` to silence it (``tqdm.auto`` ignores TQDM_DISABLE).
    """

    def __init__(self, disable: bool = False, every: int = 50):
        self.disable, self.every = disable, max(1, int(every))

    def on_train_begin(self, trainer):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.total_steps, unit="step", disable=self.disable, leave=True)

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0:
            self.bar.update(trainer.step - self.bar.n)
            self.bar.set_postfix(epoch=trainer.epoch + 1, loss=f"{trainer.history.loss[-1]:.4f}", refresh=False)

    def on_train_end(self, trainer):
        self.bar.update(trainer.step - self.bar.n)
        self.bar.close()
