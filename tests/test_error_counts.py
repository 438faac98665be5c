"""A cut list of problems says how much it left out, and the total of every rule.

``embeddings import`` of a file whose 1,770 zero vectors are spread over two read
batches once printed 50 errors and "... and 13 more problems": only the first bad
batch was counted. Every row is counted now, wherever a list is cut.
"""

from __future__ import annotations

import numpy as np

from prover_data.errors import Problem, cut_line, tally, tally_line
from tests.conftest import run_cli
from tests.embeddings_support import write_burnqed_embeddings

ROWS, ZEROS = 10_000, 1_770


def _file(tmp_path):
    texts = [f"⊢ goal {i}" for i in range(ROWS)]
    vecs = np.random.default_rng(0).standard_normal((ROWS, 8))
    zero_rows = np.linspace(0, ROWS - 1, ZEROS).astype(int)  # both 8,192-row read batches hold some
    vecs[zero_rows] = 0.0
    return write_burnqed_embeddings(tmp_path / "embeddings.parquet", texts, vecs)


def test_import_refusal_counts_every_bad_row(tmp_path):
    path = _file(tmp_path)
    proc = run_cli("embeddings", "import", str(tmp_path / "store"), str(path), "--dtype", "float16",
                   "--encoder", "m")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 52 and all(line.startswith("error: ") for line in lines)
    assert lines[50] == f"error: ... and {ZEROS - 50:,} more problems not shown ({ZEROS - 50:,} rows)"
    assert lines[51] == f"error: in all: {ZEROS:,} rows zero_vector"
    assert not list((tmp_path / "store").glob("versions/*"))  # nothing committed


def test_import_drop_invalid_counts_every_dropped_row(tmp_path):
    path = _file(tmp_path)
    proc = run_cli("embeddings", "import", str(tmp_path / "store"), str(path), "--dtype", "float16",
                   "--encoder", "m", "--drop-invalid")
    assert proc.returncode == 0, proc.stderr
    assert f"and {ZEROS - 20:,} more rows not shown; in all: {ZEROS:,} rows zero_vector" in proc.stderr


def test_runs_of_rows_count_every_row():
    problems = [Problem("f", "bad", row=0, row_end=9, count=10, check="x", column="c"),
                Problem("f", "bad", row=20, check="x", column="c"), Problem("f", "worse", check="y")]
    assert tally(problems) == {"x (c)": 11, "y": 1}
    assert tally_line(problems) == "11 rows x (c); 1 row y"
    assert cut_line(problems, 1) == "... and 2 more problems not shown (2 rows)"
    assert cut_line(problems, 3) is None
