"""A replaced directory is never missing: the new one is exchanged with the old in one step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.atomic import _exchange, atomic_dir, recover


def test_exchange_swaps_two_directories(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b" / "x").write_text("b")
    assert _exchange(tmp_path / "a", tmp_path / "b")  # Linux file systems here support it
    assert (tmp_path / "a" / "x").read_text() == "b" and (tmp_path / "b" / "x").read_text() == "a"


def test_atomic_dir_replaces_whole_and_leaves_nothing_beside(tmp_path):
    final = tmp_path / "out"
    for version in ("one", "two"):
        with atomic_dir(final) as tmp:
            (tmp / "v").write_text(version)
            assert (final / "v").read_text() == "one" if version == "two" else not final.exists()
    assert (final / "v").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_kill_after_the_exchange_leaves_the_new_result_and_recover_cleans_up(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as tmp:
        (tmp / "v").write_text("old")
    # a writer killed between the exchange and removing the old copy
    script = textwrap.dedent(f"""
        import os, shutil, signal
        import prover_data.atomic as a
        shutil.rmtree = lambda *_, **__: os.kill(os.getpid(), signal.SIGKILL)
        with a.atomic_dir({str(final)!r}) as tmp:
            (tmp / "v").write_text("new")
    """)
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    assert (final / "v").read_text() == "new"
    assert len(list(tmp_path.iterdir())) == 2  # the old copy, under a temporary name
    recover(final)
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and os.listdir(final) == ["v"]


def test_a_kill_while_views_duckdb_is_made_leaves_the_build_untouched(tmp_path):
    """views.duckdb is made in a finished build: its temporaries lie beside it, never in it."""
    out = tmp_path / "build" / "demo"
    out.mkdir(parents=True)
    pq.write_table(pa.table({"n": [1]}), out / "states.parquet")
    before = sorted(os.listdir(out))
    for step in (1, 2):  # killed as views.duckdb, then as its marker, is put in place
        script = textwrap.dedent(f"""
            import os, signal
            from pathlib import Path
            from types import SimpleNamespace
            import prover_data.build.views_db as v
            from prover_data.build.files import Build
            calls = []
            def replace(a, b):
                calls.append(a)
                if len(calls) == {step}:
                    os.kill(os.getpid(), signal.SIGKILL)
                os.rename(a, b)
            v.os.replace = replace
            v.ensure_views_db(Build(SimpleNamespace(name="demo"), Path({str(out.parent)!r})), ["states"])
        """)
        proc = subprocess.run([sys.executable, "-c", script])
        assert proc.returncode == -signal.SIGKILL
        assert sorted(os.listdir(out)) == (before if step == 1 else sorted(before + ["views.duckdb"]))
        assert any(p.name.startswith(".demo.tmp-") for p in out.parent.iterdir())
    recover(out)
    assert [p.name for p in out.parent.iterdir()] == ["demo"]
