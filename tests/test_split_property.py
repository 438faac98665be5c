"""Leak-freedom and order-independence of the split, over random search forests.

Property: whatever the trees, labels, repeated states, val fraction and seed, no
theorem has SFT pairs or contrastive samples in both splits; a theorem's split is
identity.split_bucket(seed, name) < val_fraction whatever the file order; and
shuffling the rows inside the files changes no output view at all.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover_data.identity import split_bucket
from prover_data.manifest import load_manifest
from prover_data.views import connect
from tests.test_views import make_root

OUTPUTS = ("out_sft_train", "out_sft_val", "out_contrastive_train", "out_contrastive_val", "out_states")


@st.composite
def forests(draw):
    """1-3 files of search trees over a few theorems and a small pool of states."""
    pool = [f"⊢ s{i}" for i in range(draw(st.integers(2, 12)))] + [""]
    tactics = ["simp", "ring", " omega ", "sorry", ""]
    files = {}
    for f in range(draw(st.integers(1, 3))):
        nodes = []
        for t in draw(st.lists(st.integers(0, 9), min_size=1, max_size=5, unique=True)):
            n = draw(st.integers(1, 8))
            depth = []
            for i in range(n):
                parent = None if i == 0 else draw(st.integers(0, i - 1))
                depth.append(0 if parent is None else depth[parent] + 1)
                nodes.append((f"thm_{t}", i, parent, draw(st.sampled_from(pool)),
                              "" if i == 0 else draw(st.sampled_from(tactics)),
                              draw(st.sampled_from(["positive", "positive", "negative", "unknown"])), depth[i]))
        files[f"f{f}"] = nodes
    return files


def _dump(con) -> dict[str, list]:
    return {v: con.execute(f"SELECT * FROM {v}").fetchall() for v in OUTPUTS}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=forests(), val_fraction=st.floats(0.05, 0.95), seed=st.integers(0, 10_000),
       shuffle_seed=st.integers(0, 1000))
def test_split_is_leak_free_and_order_independent(files, val_fraction, seed, shuffle_seed, tmp_path_factory):
    toml = f"[split]\nval_fraction = {val_fraction}\nseed = {seed}\n[contrastive]\nrounds = 2\n"
    d: Path = tmp_path_factory.mktemp("forest")
    con = connect(load_manifest(make_root(d / "a", files, toml)))

    for view in ("sft_pairs", "contrastive_samples"):
        leaks = con.execute(f"SELECT theorem_name FROM {view} GROUP BY ALL HAVING count(DISTINCT split) > 1").fetchall()
        assert leaks == [], view
    split = dict(con.execute("SELECT theorem_name, split FROM theorem_split").fetchall())
    assert split == {t: "val" if split_bucket(seed, t) < val_fraction else "train" for t in split}
    for view in ("sft_pairs", "contrastive_samples"):
        for theorem, s in con.execute(f"SELECT DISTINCT theorem_name, split FROM {view}").fetchall():
            assert split[theorem] == s

    rng = random.Random(shuffle_seed)
    shuffled = {name: rng.sample(nodes, len(nodes)) for name, nodes in files.items()}
    con_rows = connect(load_manifest(make_root(d / "b", shuffled, toml)))
    assert _dump(con_rows) == _dump(con)

    reordered = dict(reversed(list(files.items())))
    con_files = connect(load_manifest(make_root(d / "c", reordered, toml)))
    assert dict(con_files.execute("SELECT theorem_name, split FROM theorem_split").fetchall()) == split
