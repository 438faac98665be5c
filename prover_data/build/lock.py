"""The lock: what a build was made from and what it made, and how two locks differ.

``lock.json`` records every input (path relative to the data root, size, content
hash, rows), every output (rows, content hash), the hash of each SQL file (``sql/``
at any depth), the manifest's hash, and the package versions with a digest of the
code. Two builds of the same inputs write the same lock byte for byte, so a lock *is*
the dataset's version: comparing locks says whether data changed. ``diff`` says how,
in the terms TFDS uses for versions: the same records, a metadata-only change, or
different records.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prover_data.errors import InputError
from prover_data.identity import bytes_digest, file_digest
from prover_data.sql_files import all_sql_files, sql_dir

LOCK_FORMAT = 1
VERSIONED_PACKAGES = ("prover-data", "duckdb", "pyarrow", "polars", "numpy")


@dataclass(frozen=True)
class InputEntry:
    role: str  # trajectory, base_pairs, theorem_index, held_out:<name>, search_config
    path: str  # as the manifest names it, relative to the data root
    size: int
    hash: str
    rows: int | None = None

    def fingerprint(self) -> tuple:
        return (self.role, self.path, self.size, self.hash)


def package_versions() -> dict[str, str]:
    """Versions of what computes the outputs, and a digest of this package's own code.

    The code digest makes a build made by edited code (same version number) stale, so
    the no-op check never keeps outputs the current code would not write.
    """
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["prover-data code"] = code_digest()
    return out


def code_digest() -> str:
    """Content hash of every file that decides what a build writes (names and bytes).

    The one digest of the code: the lock records it, and the validation cache keys its
    entries on it. A hand-kept subset ("the files that matter") is how an edited file
    goes unseen, so it covers everything the build could read: ``code_files``.
    """
    return bytes_digest(b"".join(name.encode() + b"\0" + path.read_bytes() + b"\0" for name, path in code_files()))


# Beside the code in the package directory: bytecode, and what a wheel adds (its copy of
# sql/, named "sql/" below, and the bundled inputs, which the lock hashes as inputs).
_NOT_CODE_DIRS = {"__pycache__", "_sql", "_bundled"}


def code_files() -> list[tuple[str, Path]]:
    """Every file of the ``prover_data`` package and of ``sql/``, each by a name that is
    the same in a checkout and in an installed wheel (``prover_data/build/lock.py``,
    ``sql/checks/trajectory.sql``), sorted by it. Hidden files (an editor's) are left out.
    """
    package = Path(__file__).resolve().parents[1]  # prover_data/, this module being in prover_data/build/
    out = []
    for prefix, root in (("prover_data", package), ("sql", sql_dir())):
        for path in root.rglob("*"):
            rel = path.relative_to(root)
            if path.is_file() and not any(part.startswith(".") or part in _NOT_CODE_DIRS for part in rel.parts) \
                    and path.suffix != ".pyc":
                out.append((f"{prefix}/{rel.as_posix()}", path))
    return sorted(out)


def input_entries(manifest) -> list[InputEntry]:
    """Every file the manifest reads, hashed (rows are filled in by the build)."""
    items: list[tuple[str, Path]] = [("trajectory", p) for p in manifest.trajectory_paths()]
    s = manifest.sources
    if s.base_pairs is not None:
        items.append(("base_pairs", manifest.resolve(s.base_pairs.path)))
    if s.theorem_index is not None:
        items.append(("theorem_index", manifest.resolve(s.theorem_index)))
    for name, path in sorted(manifest.held_out_paths().items()):
        items.append((f"held_out:{name}", path))
    if s.search_config is not None:
        items.append(("search_config", manifest.resolve(s.search_config)))
    return [InputEntry(role, os.path.relpath(path, manifest.root), path.stat().st_size, file_digest(path))
            for role, path in items]


def sql_hashes() -> dict[str, str]:
    """The hash of every SQL file a build runs, by path relative to ``sql/`` (``checks/trajectory.sql``)."""
    root = sql_dir()
    return {f.relative_to(root).as_posix(): file_digest(f) for f in all_sql_files()}


@dataclass
class Lock:
    manifest: dict  # name, path (relative to the manifest directory's parent), hash
    inputs: list[InputEntry]
    sql: dict[str, str]
    versions: dict[str, str]
    outputs: dict[str, dict] = field(default_factory=dict)  # name -> {file, rows, hash}

    def fingerprint(self) -> dict:
        """What decides the outputs: if it is unchanged, a rebuild would change nothing."""
        return {
            "manifest": self.manifest["hash"],
            "inputs": [e.fingerprint() for e in self.inputs],
            "sql": self.sql,
            "versions": self.versions,
        }

    def to_json(self) -> str:
        doc = {
            "format": LOCK_FORMAT,
            "manifest": self.manifest,
            "inputs": [vars(e) for e in self.inputs],
            "sql": self.sql,
            "versions": self.versions,
            "outputs": self.outputs,
        }
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: str | Path) -> "Lock":
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                manifest=doc["manifest"],
                inputs=[InputEntry(**e) for e in doc["inputs"]],
                sql=doc["sql"],
                versions=doc["versions"],
                outputs=doc["outputs"],
            )
        except FileNotFoundError:
            raise InputError.one(str(path), "no lock.json here: has this manifest been built?") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError.one(str(path), f"not a prover-data lock ({e})") from None

    def outputs_intact(self, out_dir: Path) -> bool:
        """Every recorded output is present with its recorded content hash."""
        for entry in self.outputs.values():
            p = out_dir / entry["file"]
            if not p.is_file() or file_digest(p) != entry["hash"]:
                return False
        return True


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class LockDiff:
    inputs_added: list[str]
    inputs_removed: list[str]
    inputs_changed: list[str]
    outputs: dict[str, dict]  # name -> {rows_a, rows_b, delta, same_content}
    sql_changed: list[str]
    manifest_changed: bool
    versions_changed: dict[str, tuple[str, str]]
    verdict: str  # "same records" | "metadata only" | "different records"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def diff(a: Lock, b: Lock) -> LockDiff:
    """What changed from build A to build B, and whether the records did.

    Record outputs are the ones with rows (datasets, eval sets); the report is
    metadata: it states input sizes, so it changes when only the bytes of an input
    did. The verdict: "same records" when nothing at all differs, "metadata only"
    when every record output is byte-identical but inputs, SQL, versions, manifest or
    report differ, "different records" otherwise.
    """
    ia = {(e.role, e.path): e for e in a.inputs}
    ib = {(e.role, e.path): e for e in b.inputs}
    label = lambda k: f"{k[0]}: {k[1]}"  # noqa: E731
    added = sorted(label(k) for k in ib.keys() - ia.keys())
    removed = sorted(label(k) for k in ia.keys() - ib.keys())
    changed = sorted(label(k) for k in ia.keys() & ib.keys() if ia[k].hash != ib[k].hash)
    outputs = {}
    for name in sorted(a.outputs.keys() | b.outputs.keys()):
        oa, ob = a.outputs.get(name) or {}, b.outputs.get(name) or {}
        ra, rb = oa.get("rows"), ob.get("rows")
        outputs[name] = {
            "rows_a": ra,
            "rows_b": rb,
            "delta": None if ra is None and rb is None else (rb or 0) - (ra or 0),
            "same_content": bool(oa and ob and oa.get("hash") == ob.get("hash")),
            "records": ra is not None or rb is not None,
        }
    sql_changed = sorted(n for n in a.sql.keys() | b.sql.keys() if a.sql.get(n) != b.sql.get(n))
    versions = {k: (a.versions.get(k, "-"), b.versions.get(k, "-"))
                for k in sorted(a.versions.keys() | b.versions.keys()) if a.versions.get(k) != b.versions.get(k)}
    manifest_changed = a.manifest.get("hash") != b.manifest.get("hash")
    records_same = all(o["same_content"] for o in outputs.values() if o["records"])
    anything_else = bool(added or removed or changed or sql_changed or versions or manifest_changed
                         or not all(o["same_content"] for o in outputs.values()))
    if records_same and not anything_else:
        verdict = "same records"
    elif records_same:
        verdict = "metadata only"
    else:
        verdict = "different records"
    return LockDiff(added, removed, changed, outputs, sql_changed, manifest_changed, versions, verdict)
