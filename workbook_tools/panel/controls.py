"""The panel's controls: what a notebook declares, and the ipywidgets made from it.

A control describes a value (default, range, label); :meth:`Control.widget` builds
the widget; :meth:`Control.check` rejects a value before any training starts,
for what a widget cannot bound by itself (typed text).
"""
from __future__ import annotations

import math

import numpy as np

# Typed layer sizes are parsed by cl.parse_sizes, which accepts any whole number:
# without a cap one keystroke (100000) asks for gigabytes.
DEFAULT_MAX_UNITS = 4096
DEFAULT_MAX_LAYERS = 16


class Control:
    """Description of one control; :meth:`widget` builds the ipywidget."""

    def __init__(self, value, *, label=None):
        self.value, self.label = value, label

    def widget(self, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, name, value):
        """Raise ValueError, naming the control, for a value the panel must not train with."""

    def _common(self, name):
        return dict(description=self.label or name, style={"description_width": "initial"},
                    layout={"width": "auto"})


def _check_range(kind, value, lo, hi):
    if not (lo < hi):
        raise ValueError(f"{kind}: min must be below max, got {lo} and {hi}")
    if not (lo <= value <= hi):
        raise ValueError(f"{kind}: default {value} is outside [{lo}, {hi}]")


class LogSlider(Control):
    """A slider over ``[min, max]`` on a log scale (learning rates, L2 strengths)."""

    def __init__(self, value, min, max, *, steps_per_decade=10, label=None):
        if not (min > 0):
            raise ValueError(f"LogSlider: min must be positive, got {min}")
        _check_range("LogSlider", value, min, max)
        super().__init__(float(value), label=label)
        self.min, self.max, self.steps_per_decade = float(min), float(max), int(steps_per_decade)

    def widget(self, name):
        import ipywidgets as w

        return w.FloatLogSlider(value=self.value, base=10, min=math.log10(self.min), max=math.log10(self.max),
                                step=1.0 / self.steps_per_decade, readout_format=".3g",
                                continuous_update=False, **self._common(name))


class FloatSlider(Control):
    """A slider over ``[min, max]`` in steps of ``step`` (default: a hundredth of the range)."""

    def __init__(self, value, min, max, step=None, *, label=None):
        _check_range("FloatSlider", value, min, max)
        super().__init__(float(value), label=label)
        self.min, self.max = float(min), float(max)
        self.step = float(step) if step is not None else (self.max - self.min) / 100

    def widget(self, name):
        import ipywidgets as w

        return w.FloatSlider(value=self.value, min=self.min, max=self.max, step=self.step,
                             readout_format=".3g", continuous_update=False, **self._common(name))


class IntSlider(Control):
    """An integer slider (epochs, batch size, units)."""

    def __init__(self, value, min, max, step=1, *, label=None):
        _check_range("IntSlider", value, min, max)
        super().__init__(int(value), label=label)
        self.min, self.max, self.step = int(min), int(max), int(step)

    def widget(self, name):
        import ipywidgets as w

        return w.IntSlider(value=self.value, min=self.min, max=self.max, step=self.step,
                           continuous_update=False, **self._common(name))


class Dropdown(Control):
    """A choice among ``options`` (a list of values, or of ``(label, value)`` pairs)."""

    def __init__(self, value, options, *, label=None):
        options = list(options)
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        if value not in values:
            raise ValueError(f"Dropdown: default {value!r} is not one of {values}")
        super().__init__(value, label=label)
        self.options = options

    def widget(self, name):
        import ipywidgets as w

        return w.Dropdown(value=self.value, options=self.options, **self._common(name))


class Toggle(Control):
    """An on/off checkbox."""

    def __init__(self, value=False, *, label=None):
        super().__init__(bool(value), label=label)

    def widget(self, name):
        import ipywidgets as w

        return w.Checkbox(value=self.value, indent=False, **self._common(name))


class Text(Control):
    """A text box, e.g. layer sizes ``"10-6-4-3-3"``; ``run`` parses it (and may reject it).

    ``sizes=True`` declares the text to be layer sizes for ``cl.parse_sizes``: the
    panel then refuses, before training, text that does not parse, more than
    ``max_units`` in a layer or more than ``max_layers`` layers.
    """

    def __init__(self, value="", *, label=None, placeholder="", sizes=False, max_units=None, max_layers=None):
        super().__init__(str(value), label=label)
        self.placeholder = placeholder
        sizes = sizes or max_units is not None or max_layers is not None
        self.max_units = (max_units or DEFAULT_MAX_UNITS) if sizes else None
        self.max_layers = (max_layers or DEFAULT_MAX_LAYERS) if sizes else None
        if sizes:
            self.check(label or "the default", self.value)

    def widget(self, name):
        import ipywidgets as w

        return w.Text(value=self.value, placeholder=self.placeholder, continuous_update=True,
                      **self._common(name))

    def check(self, name, value):
        if self.max_units is None:
            return
        from course_lib import parse_sizes

        try:
            sizes = parse_sizes(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if max(sizes) > self.max_units:
            raise ValueError(f"{name}: {max(sizes):,} units in one layer is more than this panel allows"
                             f" (at most {self.max_units:,} per layer); type smaller sizes, like 8-8")
        if len(sizes) > self.max_layers:
            raise ValueError(f"{name}: {len(sizes)} layers is more than this panel allows"
                             f" (at most {self.max_layers}); type fewer sizes")


def make_widget(name, spec):
    """The widget for a control description, or the ipywidget itself if one was passed."""
    import ipywidgets as w

    if isinstance(spec, Control):
        return spec.widget(name)
    if isinstance(spec, w.ValueWidget):
        if hasattr(spec, "description") and not spec.description:
            spec.description = name
        return spec
    raise TypeError(f"control {name!r}: expected LogSlider, IntSlider, FloatSlider, Dropdown, Toggle, Text"
                    f" or an ipywidgets value widget, got {type(spec).__name__}")


def check_values(specs, widgets, values):
    """Let every control description reject its value (labelled as the student sees it)."""
    for name, spec in specs.items():
        if isinstance(spec, Control):
            spec.check(getattr(widgets[name], "description", None) or name, values[name])


def _fmt(v):
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3g}"
    if isinstance(v, (list, tuple)):
        return "-".join(map(_fmt, v))
    return str(v)


def describe_values(values) -> str:
    """``"lr=0.1, epochs=20, hidden=10-6-4-3-3"``: the values a run used, for titles."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
