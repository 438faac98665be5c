"""The contract of each view that the outputs' tests reach only through others, stated as data.

In the manner of dbt's schema tests, each view declares what every consumer may rely on:
its required columns and their types (a view may grow columns; none it promises may go
or change type), its keys (unique, never null), the columns never null, the values a
column accepts, the rows it must match in another relation (relationships), the
numberings it carries (0..n-1 within a partition, in content order), what holds on
every row, and what it has one row per. ``test_views.py`` checks the figures on
hand-built trees; here the same rules are checked on the tiny trees and on the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow.parquet as pq
import pytest

from prover_data.manifest import load_manifest
from prover_data.views import connect, materialize
from tests.conftest import REPO
from tests.test_views import A_NODES, B_NODES, columns, con_for, make_root


@dataclass(frozen=True)
class Relationship:
    """Every row's ``columns`` (none null) are a row's ``to_columns`` in ``to``."""

    columns: tuple[str, ...]
    to: str
    to_columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Numbering:
    """``column`` numbers the rows of each ``partition`` (that pass ``where``) 0..n-1, in ``by`` order."""

    column: str
    partition: tuple[str, ...] = ()
    where: str = "true"
    by: str | None = None


@dataclass(frozen=True)
class Contract:
    name: str
    relation: str  # a view, or a query in parentheses
    columns: dict[str, str]  # required column -> DuckDB type
    unique: tuple[tuple[str, ...], ...] = ()
    not_null: tuple[str, ...] = ()
    accepted: dict[str, tuple] = field(default_factory=dict)
    relationships: tuple[Relationship, ...] = ()
    numbered: tuple[Numbering, ...] = ()
    holds: tuple[str, ...] = ()  # SQL conditions true on every row
    one_row_per: str | None = None  # a relation with exactly as many rows


def violations(con, c: Contract) -> list[str]:
    """What of contract ``c`` the relation breaks, each said in a line (empty: it holds)."""
    rel = c.relation
    found = []
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {rel})").fetchall())
    found += [f"column {k}: missing" for k in c.columns if k not in types]
    found += [f"column {k}: {types[k]}, expected {t}" for k, t in c.columns.items() if k in types and types[k] != t]
    if found:
        return found  # the rest would fail on the missing columns
    con.execute(f"CREATE OR REPLACE TEMP TABLE contract_subject AS SELECT * FROM {rel}")  # computed once
    rel = "contract_subject"
    if con.execute(f"SELECT count(*) FROM {rel}").fetchone()[0] == 0:
        return ["no rows: every other check would pass vacuously"]
    for key in c.unique:
        cols = ", ".join(key)
        dup = con.execute(f"SELECT {cols}, count(*) FROM {rel} GROUP BY ALL HAVING count(*) > 1 LIMIT 3").fetchall()
        if dup:
            found.append(f"unique ({cols}): repeated {dup}")
    for col in dict.fromkeys([*(k for key in c.unique for k in key), *c.not_null]):
        nulls = con.execute(f"SELECT count(*) FROM {rel} WHERE {col} IS NULL").fetchone()[0]
        if nulls:
            found.append(f"not null {col}: {nulls} nulls")
    for col, allowed in c.accepted.items():
        bad = con.execute(f"SELECT DISTINCT {col} FROM {rel} WHERE NOT list_contains($allowed, {col})",
                          {"allowed": list(allowed)}).fetchall()
        if bad:
            found.append(f"accepted values {col}: {sorted(v for (v,) in bad)} not in {allowed}")
    for r in c.relationships:
        on = " AND ".join(f"p.{b} = c.{a}" for a, b in zip(r.columns, r.to_columns or r.columns))
        present = " AND ".join(f"c.{a} IS NOT NULL" for a in r.columns)
        orphans = con.execute(f"SELECT {', '.join('c.' + a for a in r.columns)} FROM {rel} AS c WHERE {present} "
                              f"AND NOT EXISTS (SELECT 1 FROM {r.to} AS p WHERE {on}) LIMIT 3").fetchall()
        if orphans:
            found.append(f"relationship ({', '.join(r.columns)}) -> {r.to}: not there {orphans}")
    found += [_numbering(con, rel, n) for n in c.numbered]
    for condition in c.holds:
        broken = con.execute(f"SELECT count(*) FROM {rel} WHERE NOT coalesce({condition}, false)").fetchone()[0]
        if broken:
            found.append(f"holds {condition}: false on {broken} rows")
    if c.one_row_per is not None:
        n, m = con.execute(f"SELECT (SELECT count(*) FROM {rel}), (SELECT count(*) FROM {c.one_row_per})").fetchone()
        if n != m:
            found.append(f"one row per {c.one_row_per}: {n} rows, expected {m}")
    return [f for f in found if f]


def _numbering(con, rel: str, n: Numbering) -> str:
    part = ", ".join(n.partition)
    group = f"GROUP BY {part}" if part else ""
    bad = con.execute(f"SELECT {part + ',' if part else ''} count(*), count(DISTINCT {n.column}), min({n.column}), "
                      f"max({n.column}) FROM {rel} WHERE {n.where} {group} "
                      f"HAVING NOT (count(*) = count(DISTINCT {n.column}) AND min({n.column}) = 0 "
                      f"AND max({n.column}) = count(*) - 1) LIMIT 3").fetchall()
    if bad:
        return f"numbered {n.column} over ({part}): not 0..n-1 {bad}"
    if n.by is None:
        return ""
    over = f"PARTITION BY {part} ORDER BY {n.column}" if part else f"ORDER BY {n.column}"
    unordered = con.execute(f"SELECT count(*) FROM (SELECT {n.by} AS v, lag({n.by}) OVER ({over}) AS before "
                            f"FROM {rel} WHERE {n.where}) WHERE before > v").fetchone()[0]
    return f"numbered {n.column} over ({part}): {unordered} rows out of {n.by} order" if unordered else ""


# ----------------------------------------------------------------------------- the contracts

TRAJECTORY_FILES = [
    Contract("trajectory_files", "trajectory_files",
             {"file_order": "INTEGER", "source": "VARCHAR", "path": "VARCHAR", "search_values": "BOOLEAN"},
             unique=(("file_order",), ("source",), ("path",)), not_null=("search_values",),
             numbered=(Numbering("file_order"),),
             one_row_per="(SELECT unnest(getvariable('trajectory_paths')))"),
    # every record's file is listed, under the name the records carry
    Contract("trajectory_files of the records", "trajectories", {"file_order": "INTEGER", "source": "VARCHAR"},
             not_null=("file_order", "source"),
             relationships=(Relationship(("file_order", "source"), "trajectory_files"),)),
]

_SFT_COLUMNS = {"source": "VARCHAR", "file_order": "INTEGER", "file_row": "BIGINT", "search": "INTEGER",
                "theorem_name": "VARCHAR", "state_id": "UBIGINT", "depth_from_root": "UINTEGER", "tactic": "VARCHAR",
                "state": "VARCHAR", "state_hash": "BLOB", "depth": "INTEGER", "is_empty": "BOOLEAN",
                "is_sorry": "BOOLEAN", "status": "VARCHAR"}
_POSITIVES = "(SELECT * FROM trajectories WHERE label = 'positive')"  # under the manifest's labels


def _sft(name: str, relation: str, also: tuple[Relationship, ...] = ()) -> list[Contract]:
    """A classification of the positives: one row each, a status, and one usable row per pair."""
    usable = f"(SELECT * FROM {relation} WHERE status = 'usable')"
    return [
        Contract(name, relation, _SFT_COLUMNS,
                 unique=(("file_order", "file_row"), ("file_order", "search", "theorem_name", "state_id")),
                 not_null=("source", "tactic", "state", "state_hash", "is_empty", "is_sorry", "status"),
                 accepted={"status": ("empty", "sorry", "dup", "usable")},
                 relationships=(Relationship(("file_order", "file_row", "source", "search", "theorem_name",
                                              "state_id", "depth_from_root"), _POSITIVES),
                                Relationship(("file_order", "source"), "trajectory_files"), *also),
                 holds=("state_hash = unhex(md5(state))", "is_empty = (status = 'empty')",
                        "(status = 'sorry') = (is_sorry AND NOT is_empty)"),
                 one_row_per=_POSITIVES),
        # deduplication: each (state, tactic) pair is usable once, and a dup is a usable pair's repeat
        Contract(f"{name}: usable pairs", usable, {"state_hash": "BLOB", "tactic": "VARCHAR"},
                 unique=(("state_hash", "tactic"),),
                 one_row_per=f"(SELECT DISTINCT state_hash, tactic FROM {relation} "
                             f"WHERE status IN ('usable', 'dup'))"),
        Contract(f"{name}: dups", f"(SELECT * FROM {relation} WHERE status = 'dup')",
                 {"state_hash": "BLOB", "tactic": "VARCHAR"},
                 relationships=(Relationship(("state_hash", "tactic"), usable),)),
    ]


def sft_contracts(pairing: str) -> list[Contract]:
    """``sft_classify`` under both pairings, and ``sft_status``: the manifest's (``pairing``)."""
    status = Relationship(("file_order", "file_row", "state_hash", "status"), f"sft_classify('{pairing}')")
    return [*_sft("sft_classify('parent')", "sft_classify('parent')"),
            *_sft("sft_classify('burnqed_compat')", "sft_classify('burnqed_compat')"),
            *_sft("sft_status", "sft_status", also=(status,))]


_NODE = ("file_order", "search", "theorem_name", "state_id")
CONTRASTIVE = [
    Contract("contrastive_records", "contrastive_records",
             {"theorem_name": "VARCHAR", "source": "VARCHAR", "file_order": "INTEGER", "search": "INTEGER",
              "state_id": "UBIGINT", "parent_state_id": "UBIGINT", "label": "VARCHAR", "state_hash": "BLOB",
              "remaining_depth": "INTEGER", "split": "VARCHAR"},
             unique=(_NODE,), not_null=("source", "label", "state_hash", "remaining_depth", "split"),
             accepted={"label": ("positive", "negative"), "split": ("train", "val")},
             relationships=(Relationship((*_NODE, "label", "state_hash", "remaining_depth"), "trajectories"),
                            Relationship(("theorem_name", "split"), "theorem_split"),
                            Relationship(("file_order", "source"), "trajectory_files")),
             one_row_per="(SELECT * FROM trajectories WHERE label IN ('positive', 'negative'))"),
    Contract("contrastive_anchors", "contrastive_anchors",
             {"split": "VARCHAR", "theorem_name": "VARCHAR", "round": "BIGINT", "source": "VARCHAR",
              "pos_state_hash": "BLOB", "pos_remaining_depth": "INTEGER"},
             unique=(("split", "theorem_name", "round"),),
             not_null=("source", "pos_state_hash", "pos_remaining_depth"),
             accepted={"split": ("train", "val")},
             relationships=(Relationship(("split", "theorem_name", "source", "pos_state_hash", "pos_remaining_depth"),
                                         "contrastive_positives",
                                         ("split", "theorem_name", "source", "state_hash", "remaining_depth")),
                            Relationship(("theorem_name", "split"), "theorem_split")),
             holds=("round BETWEEN 1 AND getvariable('rounds')",),
             # each round, each theorem of a split with a positive
             one_row_per="(SELECT DISTINCT split, theorem_name, r FROM contrastive_positives "
                         "CROSS JOIN range(1, getvariable('rounds') + 1) AS t(r))"),
    Contract("contrastive_negative_order", "contrastive_negative_order",
             {"split": "VARCHAR", "theorem_name": "VARCHAR", "tier": "VARCHAR", "state_hash": "BLOB",
              "false_negative": "BOOLEAN", "pool_idx_keep": "BIGINT", "pool_idx_exclude": "BIGINT",
              "split_idx_keep": "BIGINT", "split_idx_exclude": "BIGINT"},
             not_null=("split", "theorem_name", "tier", "state_hash", "false_negative", "pool_idx_keep",
                       "pool_idx_exclude", "split_idx_keep", "split_idx_exclude"),
             accepted={"tier": ("hard", "medium"), "split": ("train", "val")},
             relationships=(Relationship(("split", "theorem_name", "tier", "state_hash", "false_negative"),
                                         "contrastive_negative_records"),),
             # 'keep' numbers every negative; 'exclude' the ones that are not false negatives
             numbered=(Numbering("pool_idx_keep", ("split", "theorem_name", "tier"), by="state_hash"),
                       Numbering("pool_idx_exclude", ("split", "theorem_name", "tier"), "NOT false_negative",
                                 by="state_hash"),
                       Numbering("split_idx_keep", ("split",), by="state_hash"),
                       Numbering("split_idx_exclude", ("split",), "NOT false_negative", by="state_hash")),
             one_row_per="contrastive_negative_records"),
]


# ----------------------------------------------------------------------------- the data

# The trees of test_views.py under the pairing the demo does not use, three rounds and
# a split that puts theorems in both; and the demo.
TINY_TOML = ('[split]\nval_fraction = 0.5\nseed = 1\n[filters]\npairing = "burnqed_compat"\n'
             '[contrastive]\nrounds = 3\n')


# What the contracts read besides their view, computed once as the build does (the
# views under test are still computed from their definitions).
READ = ("trajectories", "theorem_split", "sft_candidates", "contrastive_records", "contrastive_positives",
        "contrastive_negative_records")


@pytest.fixture(scope="module", params=["tiny", "demo"])
def dataset(request, tmp_path_factory):
    if request.param == "tiny":
        con, manifest = con_for(tmp_path_factory.mktemp("tiny"), toml=TINY_TOML)
    else:
        manifest = load_manifest(REPO / "manifests" / "demo.toml")
        con = connect(manifest)
    for view in READ:
        materialize(con, view)
    yield con, manifest
    con.close()


def _contracts(pairing: str) -> list[Contract]:
    return [*TRAJECTORY_FILES, *sft_contracts(pairing), *CONTRASTIVE]


@pytest.mark.parametrize("name", [c.name for c in _contracts("parent")])
def test_the_view_keeps_its_contract(dataset, name):
    con, manifest = dataset
    (contract,) = [c for c in _contracts(manifest.filters.pairing) if c.name == name]
    assert violations(con, contract) == []


def test_the_data_reach_what_the_contracts_are_about(dataset):
    """Both splits, both tiers, false negatives, every status, every round: no contract is vacuous."""
    con, manifest = dataset
    one = lambda q: con.execute(q).fetchone()[0]  # noqa: E731
    assert one("SELECT count(DISTINCT split) FROM contrastive_anchors") == 2
    assert one("SELECT count(DISTINCT tier) FROM contrastive_negative_order") == 2
    assert one("SELECT bool_or(false_negative) FROM contrastive_negative_order")
    assert one("SELECT count(DISTINCT status) FROM sft_status") == 4
    assert one("SELECT count(DISTINCT round) FROM contrastive_anchors") == manifest.contrastive.rounds > 1


def test_trajectory_files_are_the_manifest_s_files_in_order(tmp_path):
    """Named by stem, in manifest order, and ``search_values`` only where q_value and visits are."""
    manifest_path = make_root(tmp_path / "root", {"b": B_NODES, "a": A_NODES})
    old = {k: v for k, v in columns(A_NODES).items() if k not in ("q_value", "visits")}  # a 12-column file
    pq.write_table(pq.read_table(tmp_path / "root" / "a.parquet").select(list(old)), tmp_path / "root" / "a.parquet")
    manifest = load_manifest(manifest_path)
    con = connect(manifest)
    got = con.execute("SELECT file_order, source, path, search_values FROM trajectory_files ORDER BY ALL").fetchall()
    assert got == [(0, "b", str(manifest.trajectory_paths()[0]), True),
                   (1, "a", str(manifest.trajectory_paths()[1]), False)]
    assert violations(con, TRAJECTORY_FILES[0]) == [] and violations(con, TRAJECTORY_FILES[1]) == []


# ----------------------------------------------------------------------------- the checks can fail


BROKEN = "(SELECT * FROM (VALUES (1, 'a', 0), (1, 'b', 2), (NULL, 'z', 1)) AS t(k, v, i))"


@pytest.mark.parametrize("contract, expected", [
    (Contract("missing", BROKEN, {"k": "INTEGER", "w": "VARCHAR"}), "column w: missing"),
    (Contract("type", BROKEN, {"k": "BIGINT"}), "column k: INTEGER, expected BIGINT"),
    (Contract("empty", f"(SELECT * FROM {BROKEN} WHERE false)", {"k": "INTEGER"}), "no rows"),
    (Contract("unique", BROKEN, {}, unique=(("k",),)), "unique (k): repeated [(1, 2)]"),
    (Contract("not null", BROKEN, {}, not_null=("k",)), "not null k: 1 nulls"),
    (Contract("accepted", BROKEN, {}, accepted={"v": ("a", "b")}), "accepted values v: ['z']"),
    (Contract("relationship", BROKEN, {}, relationships=(Relationship(("v",), "(SELECT 'a' AS v)"),)),
     "relationship (v) -> (SELECT 'a' AS v): not there"),
    (Contract("numbered", BROKEN, {}, numbered=(Numbering("k"),)), "numbered k over (): not 0..n-1"),
    (Contract("order", BROKEN, {}, numbered=(Numbering("i", by="v"),)), "numbered i over (): 1 rows out of v order"),
    (Contract("holds", BROKEN, {}, holds=("k = 1",)), "holds k = 1: false on 1 rows"),
    (Contract("rows", BROKEN, {}, one_row_per="(SELECT 1)"), "one row per (SELECT 1): 3 rows, expected 1"),
])
def test_each_check_finds_what_breaks_it(contract, expected):
    found = violations(duckdb.connect(), contract)
    assert len(found) >= 1 and any(f.startswith(expected) for f in found), found
