"""The Build page: the report rendered, its plots, the lock's inputs and a comparison.

``report.md`` is rendered by markdown-it with raw HTML off (the report's text is shown,
never executed); its image links (``plots/NAME.png``) resolve against the page's own
address to the app's ``/plots/`` route, which serves only files of ``BUILD/NAME/plots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prover_data.explore.data import ExploreData, sql
from prover_data.explore.pages import NAMES_PER_CATEGORY

CATEGORIES = {  # comparison category -> how the page says it
    "proved_here_only": "proved here, not there",
    "proved_there_only": "proved there, not here",
    "here_only": "only in this build",
    "there_only": "only in the other build",
    "both_proved": "proved in both",
    "neither_proved": "in both, proved in neither",
}


@dataclass(frozen=True)
class InputFile:
    """One input of the lock, with its size on disk now (None when it is gone)."""

    role: str
    path: str
    size: int
    hash: str
    rows: int | None
    size_now: int | None

    @property
    def changed(self) -> bool:
        return self.size_now != self.size


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    count: int
    names: list[str]


@dataclass(frozen=True)
class BuildPage:
    name: str
    report_html: str
    plots: list[str]  # files of plots/ the report does not show
    inputs: list[InputFile]
    outputs: dict[str, dict]
    against: str | None
    comparison: list[Category]


def build(data: ExploreData) -> BuildPage:
    from markdown_it import MarkdownIt

    report = data.files.report.read_text(encoding="utf-8") if data.files.report.is_file() else ""
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(report)
    plots = sorted(p.name for p in data.files.plots.glob("*.png") if f"plots/{p.name}" not in report)
    lock = data.lock
    inputs = [InputFile(e.role, e.path, e.size, e.hash, e.rows, _size(data.manifest.resolve(e.path)))
              for e in lock.inputs]
    return BuildPage(data.manifest.name, html, plots, inputs, lock.outputs, data.against,
                     _comparison(data) if data.against else [])


def _comparison(data: ExploreData) -> list[Category]:
    with data.cursor() as cur:
        found = {key: (count, names) for key, count, names in
                 cur.execute(sql("compare_page"), {"per_category": NAMES_PER_CATEGORY}).fetchall()}
    return [Category(key, title, *found.get(key, (0, []))) for key, title in CATEGORIES.items()]


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
