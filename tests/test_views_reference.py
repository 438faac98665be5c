"""The SQL views equal an independent plain-Python computation on the bundled sample.

``tests/views_reference.py`` re-implements every rule with loops, sets and hashlib;
here a real build of the demo manifest (a 1% replica of the report's 8 files) must
match it in every count of the report and in every row of every output.
"""

from __future__ import annotations

from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from prover_data.build.stages import build
from prover_data.inputs.leandojo import read_leandojo
from prover_data.manifest import load_manifest
from prover_data.views import connect
from tests.conftest import REPO
from tests.views_reference import compute

SFT_KEYS = ("usable", "empty", "sorry", "dup", "trajectory_train", "trajectory_val", "base_train", "base_val",
            "base_usable_train", "base_usable_val", "pairing_agreement")
CONTRASTIVE_KEYS = ("records", "unknown_records", "eligible_theorems", "sampled_theorems",
                    "eligible_positive_records", "sibling_negatives", "non_sibling_negatives", "total_negatives",
                    "siblings_file_rule", "siblings_theorem_rule", "false_negative_records", "false_negative_states",
                    "own_positive_samples_keep", "drawn_false_negatives", "samples_with_false_negative")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    manifest = load_manifest(REPO / "manifests" / "demo.toml")
    result = build(manifest, tmp_path_factory.mktemp("build"))
    base = read_leandojo(manifest.resolve(manifest.sources.base_pairs.path))
    return manifest, result, base, compute(manifest, base)


def test_report_counts_equal_the_independent_computation(demo):
    _, result, _, ref = demo
    stats = result.stats
    assert [{k: f[k] for k in ref.files[0]} for f in stats["files"]] == ref.files
    assert {k: stats["sft"][k] for k in SFT_KEYS} == {k: ref.sft[k] for k in SFT_KEYS}
    for split in ("train", "val"):
        assert {k: stats["contrastive"][split][k] for k in CONTRASTIVE_KEYS} == \
               {k: ref.contrastive[split].get(k, 0) for k in CONTRASTIVE_KEYS}
    assert stats["embeddings"]["unique_states"] == ref.unique_states
    # the sample is big enough for every rule to matter
    assert ref.sft["empty"] and ref.sft["dup"] and ref.sft["sorry"]
    assert ref.sft["pairing_agreement"]["only_parent"] and ref.sft["pairing_agreement"]["only_compat"]
    assert all(ref.contrastive[s]["sibling_negatives"] for s in ("train", "val"))


@pytest.mark.parametrize("name", ["sft_train", "sft_val", "contrastive_train", "contrastive_val", "states"])
def test_outputs_equal_the_independent_computation(demo, name):
    _, result, _, ref = demo
    got = [tuple(r.values()) for r in pq.read_table(result.out_dir / f"{name}.parquet").to_pylist()]
    assert len(got) == len(ref.outputs[name])
    assert got == [tuple(r) for r in ref.outputs[name]]


@pytest.mark.parametrize("change", [
    {"filters": {"pairing": "burnqed_compat"}},
    {"contrastive": {"sibling_scope": "theorem", "positive_states": "all"}},
    {"filters": {"dedup": False, "drop_sorry": False}, "split": {"seed": 3, "val_fraction": 0.3}},
    {"contrastive": {"false_negatives": "keep"}},
], ids=["burnqed_compat", "theorem_siblings", "filters_off", "keep_false_negatives"])
def test_settings_equal_the_independent_computation(demo, change):
    manifest, _, base, _ = demo
    m = manifest
    for section, values in change.items():
        m = replace(m, **{section: replace(getattr(m, section), **values)})
    ref = compute(m, base)
    con = connect(m, base_pairs=base)
    cols = ("file_order", "source", "total", "positive", "usable", "empty", "sorry", "dup", "theorems", "searches")
    assert [dict(zip(cols, r)) for r in con.execute("SELECT * FROM sft_file_stats").fetchall()] == ref.files
    rel = con.execute("SELECT * FROM contrastive_stats JOIN false_negative_stats USING (split)")
    names = [d[0] for d in rel.description]
    got = {r[0]: dict(zip(names, r)) for r in rel.fetchall()}
    for split in ("train", "val"):
        assert {k: got[split][k] for k in CONTRASTIVE_KEYS} == {k: ref.contrastive[split].get(k, 0)
                                                                 for k in CONTRASTIVE_KEYS}
    by_split = dict(con.execute("SELECT split, count(*) FROM trajectory_pairs GROUP BY ALL").fetchall())
    assert (by_split.get("train", 0), by_split.get("val", 0)) == (ref.sft["trajectory_train"], ref.sft["trajectory_val"])
    samples = con.execute("SELECT count(*) FROM contrastive_samples").fetchall()[0][0]
    assert samples == len(ref.outputs["contrastive_train"]) + len(ref.outputs["contrastive_val"])
