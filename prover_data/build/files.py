"""``Build``: one build's directory, ``BUILD_DIR/NAME``, and every file in it.

Whatever reads or writes a build (the build itself, ``prover_data.open``, the explorer,
the exports, the eval audit, the embedding commands, the trainers' commands) names its
files here: an output by its name in ``schema.OUTPUTS`` (``build.output("sft_train")``),
the eval sets, the report and its plots, ``stats.json``, ``lock.json``, ``views.duckdb``
and the dense embedding export. So a new output is a row of ``schema.OUTPUTS`` and its
``out_NAME`` view in ``sql/90_outputs.sql``, and no reader spells its file name.

The lock and the statistics are read once, when first asked for; a build that is not
there is an ``InputError`` naming the file and the command that writes it.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from prover_data.build.lock import Lock
from prover_data.errors import InputError
from prover_data.schema import OUTPUTS

EVAL_DIR = "eval"
PLOTS_DIR = "plots"
REPORT = "report.md"
STATS = "stats.json"
LOCK = "lock.json"
VIEWS_DB = "views.duckdb"
EMBEDDINGS_DIR = "embeddings"  # the dense export trainers read (``embeddings export NAME``)


def output_file(name: str) -> str:
    """The file of output ``name`` relative to the build directory (as the lock records it)."""
    if name not in OUTPUTS:
        raise KeyError(f"no build output named {name!r} (schema.OUTPUTS: {', '.join(OUTPUTS)})")
    return f"{name}.parquet"


def eval_file(set_name: str) -> str:
    """The file of eval set ``set_name`` relative to the build directory."""
    return f"{EVAL_DIR}/{set_name}.json"


class Build:
    """The build of ``manifest`` under ``build_root``: its directory and each file's path.

    ``staged(tmp)`` is the same build whose files are being written into ``tmp`` (the
    atomic directory that replaces ``dir`` when complete), so the build stages name
    their files as every reader does.
    """

    def __init__(self, manifest, build_root: str | Path = "build"):
        self.manifest = manifest
        self.name = manifest.name
        self.root = Path(build_root)
        self.dir = self.root / manifest.name

    def staged(self, directory: Path) -> "Build":
        """This build with its files under ``directory`` instead of ``dir``."""
        other = Build(self.manifest, self.root)
        other.dir = Path(directory)
        return other

    def __repr__(self) -> str:
        return f"Build({self.name!r}, {str(self.dir)!r})"

    # ----------------------------------------------------------------- paths

    def output(self, name: str) -> Path:
        """The parquet file of output ``name`` (a key of ``schema.OUTPUTS``)."""
        return self.dir / output_file(name)

    def outputs(self) -> dict[str, Path]:
        """Every output's file, in ``schema.OUTPUTS`` order."""
        return {name: self.output(name) for name in OUTPUTS}

    def eval_set(self, set_name: str) -> Path:
        return self.dir / eval_file(set_name)

    def eval_sets(self) -> list[Path]:
        """The eval sets written, sorted by file name."""
        return sorted((self.dir / EVAL_DIR).glob("*.json"))

    @property
    def plots(self) -> Path:
        return self.dir / PLOTS_DIR

    @property
    def report(self) -> Path:
        return self.dir / REPORT

    @property
    def stats_file(self) -> Path:
        return self.dir / STATS

    @property
    def lock_file(self) -> Path:
        return self.dir / LOCK

    @property
    def views_db(self) -> Path:
        return self.dir / VIEWS_DB

    @property
    def embeddings(self) -> Path:
        """Where ``prover-data embeddings export NAME`` writes the dense vectors by default."""
        return self.dir / EMBEDDINGS_DIR

    @property
    def mutex(self) -> Path:
        """The lock file two builds of one manifest hold in turn (beside the directory)."""
        return self.root / f".{self.name}.lock"

    # ----------------------------------------------------------------- contents

    def require(self, *paths: Path) -> None:
        """An ``InputError`` naming the build and what it lacks unless every one of ``paths`` is a file."""
        missing = [p.relative_to(self.dir).as_posix() for p in paths if not p.is_file()]
        if missing:
            raise InputError.one(str(self.dir), f"no build of {self.name} here ({', '.join(missing)} missing): "
                                                f"run prover-data build-manifest {self.name} first", check="not_built")

    @cached_property
    def lock(self) -> Lock:
        self.require(self.lock_file)
        return Lock.read(self.lock_file)

    @cached_property
    def stats(self) -> dict:
        self.require(self.stats_file)
        return json.loads(self.stats_file.read_text(encoding="utf-8"))
