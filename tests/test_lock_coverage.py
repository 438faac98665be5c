"""Every file that can change a build's outputs is in its lock: edit any one, and the build is stale.

The edits are made to a copy of ``prover_data/`` and ``sql/`` (imported from the copy
in a subprocess), never to the checkout other tests are reading. Each file is checked
at the lock's level (its SQL hashes and code digest, what the no-op check compares);
one edit goes through the whole ``build-manifest`` to show that this is what decides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prover_data.build.lock import Lock, diff
from tests.conftest import REPO

DEMO = REPO / "manifests" / "demo.toml"
SOURCES = ("prover_data", "sql")
COMMENTS = {".py": "# edited", ".sql": "-- edited", ".html": "{# edited #}", ".css": "/* edited */",
            ".js": "/* edited */"}


def _source_files(root: Path) -> list[str]:
    """Found here, not by the code under test: every file of the package and of ``sql/``
    (bytecode and hidden files aside), by path relative to ``root``."""
    out = []
    for top in SOURCES:
        for path in (root / top).rglob("*"):
            rel = path.relative_to(root)
            if path.is_file() and "__pycache__" not in rel.parts and not any(p.startswith(".") for p in rel.parts):
                out.append(rel.as_posix())
    return sorted(out)


FILES = _source_files(REPO)


def _copy_sources(dest: Path) -> Path:
    for top in SOURCES:
        shutil.copytree(REPO / top, dest / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _python(tree: Path, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                          timeout=600)


# Run inside the copy: edit each named file in turn (a comment appended), say what of the
# lock changed, put the file back.
_PROBE = """
import json, sys
from pathlib import Path
import prover_data
from prover_data.build.lock import code_digest, package_versions, sql_hashes
from prover_data.build.validation_cache import ValidationCache

root, comments = Path(sys.argv[1]), json.loads(sys.argv[2])
assert Path(prover_data.__file__).is_relative_to(root), prover_data.__file__  # the copy, not the checkout
assert package_versions()["prover-data code"] == code_digest() == ValidationCache(root / "b").validator
before_sql, before_code = sql_hashes(), code_digest()
seen = {}
for name in json.loads(sys.stdin.read()):
    path = root / name
    original = path.read_bytes()
    path.write_bytes(original + ("\\n" + comments.get(path.suffix, "") + "\\n").encode())
    sql = sql_hashes()
    seen[name] = {"sql": sorted(k for k in sql.keys() | before_sql.keys() if sql.get(k) != before_sql.get(k)),
                  "code": code_digest() != before_code}
    path.write_bytes(original)
assert (sql_hashes(), code_digest()) == (before_sql, before_code)
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def edited(tmp_path_factory) -> dict[str, dict]:
    """What of the lock each file's edit changed, file by file, in a copy of the sources."""
    tree = _copy_sources(tmp_path_factory.mktemp("sources"))
    proc = _python(tree, "-c", _PROBE, str(tree), json.dumps(COMMENTS), cwd=tree, stdin=json.dumps(FILES))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_files_include_sql_below_sql_and_the_explorer_s_files():
    assert {"sql/checks/trajectory.sql", "sql/inputs/leandojo.sql", "sql/inputs/tables.sql",
            "prover_data/build/lock.py", "prover_data/explore/templates/theorems.html"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_an_edit_of_any_source_file_makes_the_lock_stale(edited, name):
    seen = edited[name]
    assert seen["code"], f"{name} was edited, yet the code digest is the same"
    if name.startswith("sql/") and name.endswith(".sql"):
        assert seen["sql"] == [name.removeprefix("sql/")], f"the lock's SQL hashes should name {name}"
    else:
        assert seen["sql"] == []


def test_an_edited_sql_file_below_sql_makes_the_build_stale(tmp_path):
    """The issue's case: an edit of ``sql/inputs/leandojo.sql`` once left the build "up to date"."""
    tree = _copy_sources(tmp_path / "sources")
    work = tmp_path / "work"
    work.mkdir()

    def build() -> dict:
        proc = _python(tree, "-m", "prover_data", "build-manifest", str(DEMO), "--build-dir", str(work / "build"),
                       "--json", cwd=work)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert build()["up_to_date"] is False
    assert build()["up_to_date"] is True  # unchanged: the no-op holds, so the check below can fail
    lock_path = work / "build" / "demo" / "lock.json"
    before = Lock.read(lock_path)
    edited_file = tree / "sql" / "inputs" / "leandojo.sql"
    edited_file.write_text(edited_file.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    assert build()["up_to_date"] is False
    changes = diff(before, Lock.read(lock_path))
    assert changes.sql_changed == ["inputs/leandojo.sql"]
    assert list(changes.versions_changed) == ["prover-data code"]
