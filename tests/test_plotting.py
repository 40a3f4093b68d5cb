"""The figures' axes and titles stay legible whatever the data span: runs from 5k to 150M env steps (SAC and ARS on
the swing-up) in one panel, and one env column (a narrow figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt

from baselines.plotting import _log_x_axis, wrapped_title


def _visible_tick_labels(ax):  # type: ignore[no-untyped-def]
    low, high = ax.get_xlim()
    ticks = ax.xaxis.get_major_ticks()
    return [tick.label1 for tick in ticks if low <= tick.get_loc() <= high and tick.label1.get_text()]


def test_a_log_axis_over_many_decades_has_short_labels_that_do_not_overlap() -> None:
    figure, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot([5e3, 1.5e8], [0.0, 1.0])
    _log_x_axis(ax)
    figure.canvas.draw()
    labels = _visible_tick_labels(ax)
    texts = [label.get_text() for label in labels]
    assert "10k" in texts and "1M" in texts and "100M" in texts, texts  # before: "100000k"
    boxes = sorted((label.get_window_extent() for label in labels), key=lambda box: box.x0)
    assert all(left.x1 < right.x0 for left, right in itertools.pairwise(boxes)), texts
    plt.close(figure)


def test_a_log_axis_over_few_decades_keeps_its_1_2_5_labels() -> None:
    figure, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot([1e3, 3e5], [0.0, 1.0])
    _log_x_axis(ax)
    figure.canvas.draw()
    assert {"2k", "5k", "20k", "50k", "100k", "200k"} <= {label.get_text() for label in _visible_tick_labels(ax)}
    plt.close(figure)


def test_a_long_title_is_wrapped_to_fit_a_one_column_figure() -> None:
    figure, _ = plt.subplots(figsize=(6.5, 4))
    text = "Learning curves: interquartile mean and its 95 % bootstrap band over up to 10 seed(s) (deterministic)"
    wrapped_title(figure, text)
    figure.canvas.draw()
    box = figure._suptitle.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= figure.bbox.width
    assert figure._suptitle.get_text().replace("\n", " ") == text
    plt.close(figure)
