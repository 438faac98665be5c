"""The states a build asks to be encoded: its ``states`` output (``schema.STATES``)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.build.files import Build
from prover_data.errors import InputError
from prover_data.schema import STATES


def read_states(build: Build, columns=("state_hash", "state_pp")) -> pa.Table:
    """A build's unique states; a clear error when the build is missing or malformed."""
    path = build.output("states")
    if not path.is_file():
        raise InputError.one(str(path), f"no build of '{build.name}' here: run `prover-data build-manifest "
                                        f"{build.name}` first (or pass --build-dir)")
    schema = pq.read_schema(path)
    for col in columns:
        if col not in schema.names:
            raise InputError.one(str(path), f"missing column (expected the build's states table: {STATES.names})",
                                 column=col)
        want = STATES.field(col).type
        if schema.field(col).type != want:
            raise InputError.one(str(path), f"expected type {want}, found {schema.field(col).type}", column=col)
    return pq.read_table(path, columns=list(columns))


def states_to_encode(build: Build) -> pa.Table:
    """``state_hash``, ``state_pp`` of the manifest's build, or of its views when not built yet.

    ``embed`` may come before the first build: a manifest whose contrastive sampler has
    an embedding tier needs vectors to build at all. The views give the same states as
    the build's ``states.parquet``, after the same validation of the trajectory files.
    """
    if build.output("states").is_file():
        return read_states(build)
    from prover_data.inputs.trajectories import check_trajectories
    from prover_data.views import connect

    check_trajectories(build.manifest)
    con = connect(build.manifest, read_base_pairs=False, embedding_tier=False)
    try:
        table = con.sql("SELECT state_hash, state_pp FROM out_states").to_arrow_table()
    finally:
        con.close()
    schema = pa.schema([STATES.field("state_hash"), STATES.field("state_pp")])
    return table.cast(schema)
