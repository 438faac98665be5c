"""What each page of the explorer shows, as dataclasses, from parameterized queries.

Every value a request carries reaches DuckDB as a bound parameter (``$name``) of a
query in ``sql/``; sort columns are picked inside the SQL by ``CASE`` over fixed
names. A request's values are checked here first (``TheoremQuery.parse``), so a bad
link answers 400 naming the parameter instead of a DuckDB error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping
from urllib.parse import urlencode

from prover_data.explore.data import ExploreData, sql

PAGE_SIZE = 50
SORTS = ("name", "split", "proved", "files", "searches", "nodes", "positives", "negatives", "sft_pairs", "samples")
SPLITS = ("", "train", "val", "none")
PROVED = ("", "yes", "no")
RECORDS_PER_STATE = 20  # provenance rows shown per state on the sample page
NAMES_PER_CATEGORY = 200  # theorems listed per category of a comparison


class BadRequest(ValueError):
    """A request parameter the pages cannot answer (the app answers 400 with it)."""


class NotFound(LookupError):
    """No such theorem or sample in this build (the app answers 404 with it)."""


@dataclass(frozen=True)
class TheoremQuery:
    """The Theorems page's filters, sort and page, as the request's query string gives them.

    The page opens on the searched theorems, most nodes first: the eval sets' theorems
    have no records by construction, and sorted by name they filled the first pages
    with zeros. They are shown when asked for: ``unsearched=1``, or a filter that can
    only mean them (split ``none``, an eval or held-out list).
    """

    q: str = ""
    split: str = ""
    proved: str = ""
    file: str = ""
    list: str = ""
    unsearched: bool = False
    sort: str = "nodes"
    descending: bool = True
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> "TheoremQuery":
        page = params.get("page", "1")
        if not page.isdigit() or int(page) < 1:
            raise BadRequest(f"page: expected a positive integer, got {page!r}")
        # No sort: the default view (most nodes first); a sort column alone sorts up.
        sort = params.get("sort", cls.sort)
        order = params.get("dir", "asc" if "sort" in params else "desc")
        for name, value, allowed in (("sort", sort, SORTS), ("dir", order, ("asc", "desc")),
                                     ("split", params.get("split", ""), SPLITS),
                                     ("proved", params.get("proved", ""), PROVED),
                                     ("unsearched", params.get("unsearched", ""), ("", "1"))):
            if value not in allowed:
                raise BadRequest(f"{name}: expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        return cls(q=params.get("q", "").strip(), split=params.get("split", ""), proved=params.get("proved", ""),
                   file=params.get("file", ""), list=params.get("list", ""),
                   unsearched=params.get("unsearched") == "1", sort=sort, descending=order == "desc",
                   page=int(page))

    def filters(self) -> dict[str, str]:
        return {"q": self.q, "split": self.split, "proved": self.proved, "file": self.file, "list": self.list}

    @property
    def shows_unsearched(self) -> bool:
        """Whether theorems never searched (the eval sets') are listed."""
        return self.unsearched or self.split == "none" or bool(self.list)

    def link(self, **changes) -> str:
        """The query string of this view with ``changes`` (empty filters left out).

        Sort and direction are always spelled out: without them a link means the
        default view, and a sort column without a direction sorts up.
        """
        q = replace(self, **changes)
        params = {**q.filters(), "unsearched": "1" if q.unsearched else "", "sort": q.sort,
                  "dir": "desc" if q.descending else "asc", "page": "" if q.page == 1 else str(q.page)}
        return "?" + urlencode({k: v for k, v in params.items() if v})

    def sort_link(self, column: str) -> str:
        """Sort by ``column``; a second click on the sorted column flips the direction."""
        return self.link(sort=column, descending=(self.sort == column and not self.descending), page=1)


@dataclass(frozen=True)
class TheoremsPage:
    query: TheoremQuery
    rows: list[dict]
    total: int
    hidden: int  # theorems that pass the filters but are not listed: never searched, and not asked for

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / PAGE_SIZE))

    @property
    def first_row(self) -> int:
        return (self.query.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return (self.query.page - 1) * PAGE_SIZE + len(self.rows)


def theorems(data: ExploreData, query: TheoremQuery) -> TheoremsPage:
    filters = {**query.filters(), "unsearched": query.shows_unsearched}
    with data.cursor() as cur:
        total, hidden = cur.execute(sql("theorems_count"), filters).fetchone()
        params = {**filters, "sort": query.sort, "descending": query.descending, "limit": PAGE_SIZE,
                  "offset": (query.page - 1) * PAGE_SIZE}
        rows = _dicts(cur.execute(sql("theorems_page"), params))
    return TheoremsPage(query, rows, total, hidden)


@dataclass(frozen=True)
class SearchTree:
    """One search of a theorem in one file: its nodes, as the page script draws them."""

    source: str
    search: int
    nodes: list[dict]

    @property
    def key(self) -> str:
        return f"{self.source}/{self.search}"

    @property
    def proved(self) -> bool:
        return any(n["complete"] for n in self.nodes)

    @property
    def on_path(self) -> int:
        return sum(n["path"] for n in self.nodes)


@dataclass(frozen=True)
class TheoremPage:
    summary: dict
    trees: list[SearchTree]
    sft: dict[str, list[dict]]  # 'manifest' / 'burnqed_compat' -> pairs
    samples: list[dict]
    pairing: str  # the manifest's pairing
    preferences: list[dict]  # the pairs credited to the theorem (their first occurrence)

    def usable(self, pairing: str) -> int:
        return sum(r["status"] == "usable" for r in self.sft.get(pairing, []))


def theorem(data: ExploreData, name: str) -> TheoremPage:
    with data.cursor() as cur:
        summary = _dicts(cur.execute(sql("theorem_summary"), {"theorem": name}))
        if not summary:
            raise NotFound(f"no theorem named {name!r} in build {data.manifest.name}")
        nodes = _dicts(cur.execute(sql("theorem_nodes"), {"theorem": name}))
        sft = _dicts(cur.execute(sql("theorem_sft"), {"theorem": name}))
        samples = _dicts(cur.execute(sql("theorem_samples"), {"theorem": name}))
        preferences = _dicts(cur.execute(sql("theorem_preferences"), {"theorem": name}))
    trees: dict[tuple[str, int], list[dict]] = {}
    for n in nodes:
        trees.setdefault((n["source"], n["search"]), []).append(_node(n))
    pairs: dict[str, list[dict]] = {"manifest": [], "burnqed_compat": []}
    for row in sft:
        pairs[row["pairing"]].append(row)
    return TheoremPage(summary[0], [SearchTree(s, k, v) for (s, k), v in trees.items()], pairs, samples,
                       data.manifest.filters.pairing, preferences)


def _node(row: dict) -> dict:
    """A node as the page script reads it (short keys; non-finite floats as text, JSON has none)."""
    return {"id": row["state_id"], "parent": row["parent_state_id"], "label": row["label"],
            "tactic": row["tactic_applied"], "state": row["state_pp"], "depth": row["depth_from_root"],
            "remaining": row["remaining_depth"], "llm": _finite(row["llm_log_prob"]), "ebm": _finite(row["ebm_score"]),
            "q": _finite(row["q_value"]), "visits": row["visits"], "complete": row["is_proof_complete"],
            "path": row["on_proof_path"], "row": row["file_row"], "file_label": row["file_label"],
            "relabelled": row["relabelled"], "distance": row["distance"],
            "value": None if row["value_provable"] is None else {
                "provable": row["value_provable"], "distance": row["value_distance"], "nodes": row["value_nodes"],
                "visits": row["value_visits"], "q": _finite(row["value_q"])}}


def _finite(x: float | None) -> float | str | None:
    return x if x is None or math.isfinite(x) else str(x)


@dataclass(frozen=True)
class SampleMember:
    """The positive (position 0) or one negative of a sample."""

    position: int
    role: str
    tier: str | None
    state_hash: str  # hex
    state: str | None
    records: list[dict]  # where the state occurs: file, search, node, theorem, label
    n_records: int
    cosine: float | None


@dataclass(frozen=True)
class SamplePage:
    split: str
    sample_id: int
    theorem_name: str
    round: int
    source: str
    pos_remaining_depth: int
    members: list[SampleMember]
    has_vectors: bool
    neighbours: dict[str, int | None] = field(default_factory=dict)  # 'previous' / 'next' sample id


def sample(data: ExploreData, split: str, sample_id: int) -> SamplePage:
    with data.cursor() as cur:
        rows = _dicts(cur.execute(sql("sample"), {"split": split, "sample_id": sample_id}))
        if not rows:
            raise NotFound(f"no {split} sample {sample_id} in build {data.manifest.name}")
        hashes = [r["state_hash"] for r in rows]
        texts = {r["state_hash"]: r["state_pp"] for r in _dicts(cur.execute(
            sql("states"), {"states": str(data.files.output("states")), "hashes": hashes}))}
        where: dict[bytes, list[dict]] = {}
        for r in _dicts(cur.execute(sql("state_records"), {"hashes": hashes, "per_state": RECORDS_PER_STATE})):
            where.setdefault(r["state_hash"], []).append(r)
        ids = cur.execute(sql("sample_neighbours"), {"split": split, "sample_id": sample_id}).fetchone()
    cosines = data.vectors.cosines_to_first(hashes) if data.vectors else [None] * len(rows)
    members = [SampleMember(r["position"], r["role"], r["tier"], r["state_hash"].hex(), texts.get(r["state_hash"]),
                            where.get(r["state_hash"], []),
                            where[r["state_hash"]][0]["n_records"] if r["state_hash"] in where else 0, cos)
               for r, cos in zip(rows, cosines)]
    first = rows[0]
    return SamplePage(split, sample_id, first["theorem_name"], first["round"], first["source"],
                      first["pos_remaining_depth"], members, data.vectors is not None,
                      {"previous": ids[0], "next": ids[1]})


def _dicts(result) -> list[dict]:
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row)) for row in result.fetchall()]
