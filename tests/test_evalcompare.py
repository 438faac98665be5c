"""Eval-run comparison on hand-built search trees with known answers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from prover_data.errors import InputError
from prover_data.evaluation.compare import (
    compare, config_differences, default_names, markdown_lines, plot, read_run, sidecar_config, warnings,
)
from tests.conftest import BURNQED
from tests.eval_fixtures import search_rows, write_run, write_trajectory

# theorem -> (proof depth or None, nodes)
BASELINE = {"t1": (1, 3), "t2": (2, 10), "t3": (None, 40), "t4": (3, 12), "t5": (None, 7)}
CANDIDATE = {"t1": (1, 4), "t2": (None, 50), "t3": (8, 270), "t4": (6, 30), "t5": (5, 181)}
# t2: regression; t3, t5: gains (exclusive); depths: baseline [1, 2, 3] -> median 2, max 3;
# candidate [1, 8, 6, 5] -> median 5.5, max 8.


@pytest.fixture
def runs(tmp_path):
    a = write_run(tmp_path / "eval_x_llm_only.parquet", BASELINE)
    b = write_run(tmp_path / "eval_x_ebm90.parquet", CANDIDATE)
    return a, b


def test_theorem_outcomes_take_the_shortest_proof_and_count_nodes(tmp_path):
    rows = search_rows("deep", 4, 9, extra_proofs=(2,)) + search_rows("none", None, 5)
    path = write_trajectory(tmp_path / "r.parquet", rows)
    run = read_run(path, "r")
    assert run.theorems.to_pylist() == [
        {"theorem_name": "deep", "nodes": 9, "proved": True, "proof_depth": 2},
        {"theorem_name": "none", "nodes": 5, "proved": False, "proof_depth": None},
    ]


def test_compare_known_answers(runs):
    a, b = runs
    names = default_names([a, b])
    assert names == ["llm_only", "ebm90"]
    c = compare([read_run(a, names[0]), read_run(b, names[1])])
    s = {r["name"]: r for r in c.summary}
    assert (s["llm_only"]["proved"], s["llm_only"]["ran"]) == (3, 5)
    assert (s["ebm90"]["proved"], s["ebm90"]["ran"]) == (4, 5)
    assert s["ebm90"]["best"] and not s["llm_only"]["best"]
    assert (s["llm_only"]["median_depth"], s["llm_only"]["max_depth"]) == (2.0, 3)
    assert (s["ebm90"]["median_depth"], s["ebm90"]["max_depth"]) == (5.5, 8)
    assert c.exclusive["llm_only"] == [{"theorem": "t2", "depth": 2, "nodes": 10}]
    assert c.exclusive["ebm90"] == [{"theorem": "t3", "depth": 8, "nodes": 270},
                                    {"theorem": "t5", "depth": 5, "nodes": 181}]
    v = c.versus_baseline[0]
    assert [r["theorem"] for r in v["gained"]] == ["t3", "t5"]
    assert v["regressions"] == [{"theorem": "t2", "depth": 2, "nodes": 10}]
    assert v["net"] == 1 and v["rate_delta_pp"] == pytest.approx(20.0)
    assert c.same_theorems

    md = "\n".join(markdown_lines(c))
    assert "| llm_only | 3/5 | 60.0% |" in md
    assert "| ebm90 | 4/5 | **80.0%** |" in md
    assert "**ebm90 vs llm_only: +1 theorems (+20.0pp), 1 regression.**" in md
    assert "- Regressions (proved by llm_only, not by ebm90): `t2` (depth 2, 10 nodes)" in md
    assert "- ebm90: 2 -- `t3` (depth 8, 270 nodes); `t5` (depth 5, 181 nodes)" in md
    assert "Median proof depth: 2 (llm_only), 5.5 (ebm90). Max: 3 (llm_only), 8 (ebm90)." in md


def test_regressions_and_gains_count_only_theorems_both_ran(tmp_path):
    a = write_run(tmp_path / "a.parquet", {"t1": (1, 3), "t2": (1, 3)})
    b = write_run(tmp_path / "b.parquet", {"t1": (1, 3), "t3": (2, 5)})
    c = compare([read_run(a, "a"), read_run(b, "b")])
    assert not c.same_theorems
    v = c.versus_baseline[0]
    assert v["common_theorems"] == 1 and v["gained"] == [] and v["regressions"] == []
    assert c.exclusive == {"a": [{"theorem": "t2", "depth": 1, "nodes": 3}],
                           "b": [{"theorem": "t3", "depth": 2, "nodes": 5}]}
    assert any("did not run the same theorems (a: 2, b: 2)" in w for w in warnings(c))


def test_eval_set_counts_theorems_that_never_ran(runs):
    a, b = runs
    eval_set = pa.table({"name": ["t1", "t2", "t3", "t4", "t5", "t6", "t7"], "statement": ["s"] * 7})
    c = compare([read_run(a, "a"), read_run(b, "b")], eval_set, "set.json")
    assert c.eval_set["ran_in_any"] == 5 and c.eval_set["missing"] == ["t6", "t7"] and c.eval_set["extra"] == []
    assert "5/7 theorems of `set.json` ran (2 never reached a trajectory)." in markdown_lines(c)


def _config(tmp_path, name: str, **search) -> str:
    body = "\n".join(f"{k} = {v}" for k, v in search.items())
    p = tmp_path / name
    p.write_text(f"# {name}\n[search]\n{body}\n\n[lean_pool]\nnum_workers = 8\n", encoding="utf-8")
    return str(p)


def test_configs_identical_same_values_differ_unknown(runs, tmp_path):
    a, b = runs
    real = str(BURNQED / "search.toml")
    same = config_differences([read_run(a, "a", real), read_run(b, "b", real)])
    assert same["status"] == "identical" and same["differences"] == {} and same["unknown"] == []
    x = _config(tmp_path, "x.toml", alpha=0.5, beta=0.5)
    y = _config(tmp_path, "y.toml", alpha=0.5, beta=0.5)  # another comment, same values
    assert config_differences([read_run(a, "a", x), read_run(b, "b", y)])["status"] == "same values"
    z = _config(tmp_path, "z.toml", alpha=1.0, beta=0.0, llm_temperature=40.4)
    diff = config_differences([read_run(a, "a", x), read_run(b, "b", z)])
    assert diff["status"] == "differ"
    assert diff["differences"] == {"search.alpha": {"a": 0.5, "b": 1.0}, "search.beta": {"a": 0.5, "b": 0.0},
                                   "search.llm_temperature": {"a": None, "b": 40.4}}
    c = compare([read_run(a, "a", x), read_run(b, "b", z)])
    md = "\n".join(markdown_lines(c))
    assert "| `search.llm_temperature` | (absent) | `40.4` |" in md
    unknown = compare([read_run(a, "a", x), read_run(b, "b")])
    assert unknown.configs["status"] == "unknown" and unknown.configs["unknown"] == ["b"]
    assert "search config of run 'b' is UNKNOWN" in "\n".join(markdown_lines(unknown))


def test_sidecar_config_is_found_beside_the_parquet(runs):
    a, _ = runs
    assert sidecar_config(a) is None
    side = a.with_name(f"{a.stem}.search.toml")
    side.write_bytes((BURNQED / "search.toml").read_bytes())
    assert sidecar_config(a) == side
    assert read_run(a, "a").config.values["search.llm_temperature"] == 40.4


def test_bad_inputs_are_input_errors(runs, tmp_path):
    a, b = runs
    with pytest.raises(InputError, match="share the name"):
        compare([read_run(a, "same"), read_run(b, "same")])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(a.read_bytes()[: 200])
    with pytest.raises(InputError, match="broken.parquet"):
        read_run(broken, "x")
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[search]\nalpha = 'high'\n", encoding="utf-8")
    with pytest.raises(InputError, match="search.alpha"):
        read_run(a, "a", bad_cfg)


def test_plot_writes_a_png(runs, tmp_path):
    a, b = runs
    out = plot(compare([read_run(a, "a"), read_run(b, "b")]), tmp_path / "plots" / "eval.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
