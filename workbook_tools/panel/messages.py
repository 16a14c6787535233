"""What the panel says: the status line beside the progress bar, and the message line.

Every text a run can end with comes from :data:`ENDINGS`, one row per stop
reason of ``course_lib.training.History``, so that the wording and the colours
of the outcomes stay side by side.
"""
from __future__ import annotations

import html
import math

import numpy as np

from .budget import about
from .controls import describe_values

COLORS = {"error": "#b00020", "warning": "#a85a00", "info": "#444", "ok": "#1b6e20"}

# stop_reason -> (progress bar style, message kind, text); the text is formatted with
# the run's history h, its summary and the values it used
ENDINGS = {
    "completed": ("success", "ok", "Done: {summary} · {used}"),
    "requested": ("warning", "warning", "{message_capitalised}: the curves and the weights so far are kept"
                                        " ({summary} · {used})."),
    "early_stopping": ("success", "ok", "Early stopping: {h.message} ({summary} · {used})."),
    "diverged": ("danger", "error", "Training diverged: {h.message}. Try a smaller learning rate ({used})."),
    "interrupted": ("warning", "warning", "Interrupted: {h.message} ({summary} · {used})."),
}
OTHER_ENDING = ("warning", "warning", "Training ended ({h.stop_reason}): {h.message} ({summary}).")

NO_CALLBACKS = ("run() did not pass the panel's callbacks to the trainer, so there were no live curves and"
                " Stop cannot work: call cl.train(..., callbacks=callbacks).")


def message_html(text, kind):
    return (f'<div class="cl-panel-msg cl-panel-msg-{kind}" style="color:{COLORS[kind]};'
            f'white-space:normal; line-height:1.4">{html.escape(text)}</div>')


def ending(history, values):
    """(progress bar style, message kind, text) for a run that ended with ``history``."""
    style, kind, text = ENDINGS.get(history.stop_reason, OTHER_ENDING)
    message = history.message or f"stopped at step {len(history.loss)}"
    return style, kind, text.format(h=history, summary=summary(history), used=describe_values(values),
                                    message_capitalised=message[:1].upper() + message[1:])


def error(exc, values):
    """The message for a run that could not start or failed: the error's own words, no traceback."""
    # ValueError and friends carry a sentence for the student; anything else is a bug, named as such
    kind = "" if isinstance(exc, (ValueError, TypeError, KeyError)) else f"{type(exc).__name__}: "
    return f"Cannot train with {describe_values(values)} — {kind}{str(exc) or type(exc).__name__}"


def values_changed(values, cost=None, refusal=None):
    """The message when a control moved: what Train will do with the new values."""
    if refusal is not None:
        return f"Values changed ({describe_values(values)}): Train would refuse them — {refusal}", "warning"
    time = f" ({about(cost.seconds)})" if cost is not None else ""
    return f"Values changed ({describe_values(values)}): press Train to train with them{time}.", "info"


def starting(cost):
    """The status line from Train to the first step: the time the run should take."""
    return "starting…" if cost is None else f"starting · {about(cost.seconds)}"


def status(loop, final=False, left=None):
    """``step 40/48 · epoch 4/4 · loss 0.2345 · about 3 s left`` (the validation accuracy at the end)."""
    h = loop.history
    loss = f" · loss {recent_loss(h):.4f}" if h.loss else ""
    val = f" · val acc {h.val_acc[-1]:.3f}" if final and h.val_acc else ""
    eta = f" · {about(left)} left" if left is not None and not final else ""
    epoch = min(loop.epoch + 1, loop.epochs)
    return f"step {loop.step}/{loop.total_steps} · epoch {epoch}/{loop.epochs}{loss}{val}{eta}"


def recent_loss(h):
    """Mean loss of the last steps (up to 100, at most an epoch): one mini-batch's,
    let alone one instance's, loss is too noisy to report on its own."""
    k = max(1, min(len(h.loss), 100, h.steps_per_epoch or 100))
    recent = np.asarray(h.loss[-k:], dtype=float)
    return float(recent.mean()) if np.isfinite(recent).all() else float(recent[-1])


def summary(h):
    parts = [_plural(len(h.loss), "step"), _plural(h.epochs_done, "epoch")]
    if h.loss and math.isfinite(recent_loss(h)):
        parts.append(f"loss {recent_loss(h):.4f}")
    if h.val_acc:
        parts.append(f"val acc {h.val_acc[-1]:.3f}")
    elif h.epoch_acc:
        parts.append(f"train acc {h.epoch_acc[-1]:.3f}")
    return ", ".join(parts)


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"
