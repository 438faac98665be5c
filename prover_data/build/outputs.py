"""How a build writes its datasets: parquet with fixed bytes.

Outputs are byte-identical for the same inputs whatever DuckDB's thread schedule: each
output view (``sql/90_outputs.sql``) orders its rows by content, and is written here
in exact ``ROW_GROUP``-row groups, cast to and checked against its schema in
``schema.OUTPUTS``, with no timestamp in the file. ``views_db`` adds the DuckDB file
over them.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.build.files import Build
from prover_data.schema import OUTPUTS

ROW_GROUP = 65536
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True)


def write_outputs(con, staged: Build, advance=lambda n: None) -> dict[str, int]:
    """Every output of ``schema.OUTPUTS`` from its ``out_NAME`` view to its file in
    ``staged``; the rows of each (the write stage's part of the lock).

    This thread pulls row groups out of DuckDB; ``ENCODERS`` others compress and write
    them (pyarrow lets go of the GIL while it does), each file on one of them in turn, so
    its groups stay in order while one output's sort overlaps the encoding of the
    previous ones; at most ``AHEAD`` groups per encoder (in all) wait between them.
    """
    rows = {}
    encoders = [ThreadPoolExecutor(max_workers=1) for _ in range(ENCODERS)]
    pending: deque[Future] = deque()

    def later(encoder: ThreadPoolExecutor, fn, *args, **kwargs) -> None:
        pending.append(encoder.submit(fn, *args, **kwargs))
        while len(pending) > AHEAD * ENCODERS:
            pending.popleft().result()

    try:
        for i, (name, schema) in enumerate(OUTPUTS.items()):
            encoder = encoders[i % ENCODERS]
            writer = pq.ParquetWriter(staged.output(name), schema, **PARQUET_OPTIONS)
            rows[name] = 0
            for table in _row_groups(con, f"SELECT * FROM out_{name}", schema):
                later(encoder, writer.write_table, table, row_group_size=ROW_GROUP)
                rows[name] += table.num_rows
                advance(table.num_rows)
            later(encoder, writer.close)
        while pending:
            pending.popleft().result()
    finally:
        for encoder in encoders:
            encoder.shutdown()
    return rows


ENCODERS = 2  # files compressed at once: one encoder alone held up the pulls behind it
AHEAD = 2  # row groups per encoder, pulled out of DuckDB and not yet written: bounded memory


def _row_groups(con, query: str, schema: pa.Schema) -> Iterator[pa.Table]:
    """A query's rows in exact ROW_GROUP-row tables of ``schema`` (one empty table for no rows)."""
    reader = con.sql(query).to_arrow_reader(ROW_GROUP)
    pending: list[pa.RecordBatch] = []
    pending_rows = total = 0
    for batch in reader:
        pending.append(_conform(batch, schema))
        pending_rows += batch.num_rows
        while pending_rows >= ROW_GROUP:
            table = pa.Table.from_batches(pending, schema)
            yield table.slice(0, ROW_GROUP)
            rest = table.slice(ROW_GROUP)
            pending, pending_rows = rest.to_batches(), rest.num_rows
            total += ROW_GROUP
    if pending_rows or total == 0:
        yield pa.Table.from_batches(pending, schema)


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """DuckDB's Arrow types (blob, varchar views) cast to the contract's types, checked."""
    if batch.schema.names != schema.names:
        raise RuntimeError(f"output columns {batch.schema.names} differ from the contract {schema.names}")
    arrays = [batch.column(i).cast(field.type) for i, field in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
