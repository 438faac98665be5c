"""The states a build asks to be encoded: ``build/NAME/states.parquet`` (``schema.STATES``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.errors import InputError
from prover_data.schema import STATES


def states_path(name: str, build_root: str | Path = "build") -> Path:
    return Path(build_root) / name / "states.parquet"


def read_states(name: str, build_root: str | Path = "build", columns=("state_hash", "state_pp")) -> pa.Table:
    """A build's unique states; a clear error when the build is missing or malformed."""
    path = states_path(name, build_root)
    if not path.is_file():
        raise InputError.one(str(path), f"no build of '{name}' here: run `prover-data build-manifest {name}` first "
                                        "(or pass --build-dir)")
    schema = pq.read_schema(path)
    for col in columns:
        if col not in schema.names:
            raise InputError.one(str(path), f"missing column (expected the build's states table: {STATES.names})",
                                 column=col)
        want = STATES.field(col).type
        if schema.field(col).type != want:
            raise InputError.one(str(path), f"expected type {want}, found {schema.field(col).type}", column=col)
    return pq.read_table(path, columns=list(columns))


def states_to_encode(manifest, build_root: str | Path = "build") -> pa.Table:
    """``state_hash``, ``state_pp`` of the manifest's build, or of its views when not built yet.

    ``embed`` may come before the first build: a manifest whose contrastive sampler has
    an embedding tier needs vectors to build at all. The views give the same states as
    the build's ``states.parquet``, after the same validation of the trajectory files.
    """
    if states_path(manifest.name, build_root).is_file():
        return read_states(manifest.name, build_root)
    from prover_data.inputs.trajectories import check_trajectories
    from prover_data.views import connect

    check_trajectories(manifest)
    con = connect(manifest, read_base_pairs=False, embedding_tier=False)
    try:
        table = con.sql("SELECT state_hash, state_pp FROM out_states").to_arrow_table()
    finally:
        con.close()
    schema = pa.schema([STATES.field("state_hash"), STATES.field("state_pp")])
    return table.cast(schema)
