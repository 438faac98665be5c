"""The build report's contrastive plot keeps every bar and its count inside the axes, at any magnitude."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from prover_data.build.report import _compact, contrastive_figure  # noqa: E402


def contrastive_stats(biggest: float, embedding_tier: bool = False) -> dict:
    """The report's ``contrastive`` stats with one count of ``biggest`` and the rest far below it."""
    tiers = ("hard", "embedding", "medium", "easy") if embedding_tier else ("hard", "medium", "easy")
    split = {"train": {"sibling_negatives": 320, "non_sibling_negatives": int(biggest)},
             "val": {"sibling_negatives": 45, "non_sibling_negatives": 438}}
    samples = {"train": {"tiers": {t: int(biggest * (i + 1) / 7) for i, t in enumerate(tiers)}},
               "val": {"tiers": {t: 56 + i for i, t in enumerate(tiers)}}}
    c = {**split, "samples": samples, "k": 7, "rounds": 4}
    if embedding_tier:
        c["embedding_tier"] = {"pool": 16}
    return c


@pytest.mark.parametrize("biggest", [7, 234_567, 98_765_432_100])
@pytest.mark.parametrize("embedding_tier", [False, True])
def test_every_bar_and_its_label_fit_inside_the_axes(biggest, embedding_tier, tmp_path):
    fig = contrastive_figure(contrastive_stats(biggest, embedding_tier))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        heights = [p.get_height() for p in ax.patches]
        labels = [t for t in ax.texts if isinstance(t, Annotation)]
        assert len(labels) == len(heights) > 0
        assert ax.get_ylim()[1] > max(heights)
        box = ax.get_window_extent(renderer)
        tallest = max(labels, key=lambda t: t.xy[1])
        assert tallest.xy[1] == max(heights) and tallest.get_text() == _compact(max(heights))
        for label in labels:  # every count is drawn inside the plot, and the legend covers none
            extent = label.get_window_extent(renderer)
            assert box.y0 <= extent.y0 and extent.y1 <= box.y1
            assert not extent.overlaps(ax.get_legend().get_window_extent(renderer))
    fig.savefig(tmp_path / "contrastive.png", dpi=100)
    plt.close(fig)
    assert (tmp_path / "contrastive.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bar_labels_stay_short_at_every_magnitude():
    assert [_compact(n) for n in (7, 4_608, 9_999, 10_000, 234_567, 999_600, 4_608_123, 98_765_432_100)] == [
        "7", "4,608", "9,999", "10K", "235K", "1M", "4.61M", "98.8B"]
