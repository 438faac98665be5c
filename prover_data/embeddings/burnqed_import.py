"""Import a BurnQED ``embeddings.parquet`` (``state_pp`` + ``list<double>``) into the store.

BurnQED's file says nothing about the model or precision that produced it -- which is
how bf16 vectors ended up serving an fp16 search -- so the importer makes the user
say both: ``dtype`` (the precision the encoder ran in; the f64 values are stored in
it, 2 bytes a value for fp16/bf16) and the encoder fingerprint. The file is streamed
in batches (``inputs.burnqed_embeddings``), so a 217K x 4096 file (7 GB of f64)
needs memory for one batch, not the whole matrix. States already in the store for
that encoder and dtype are skipped; zero, NaN and Inf vectors (SGLang's zero-vector
bug wrote 10-18% of them) are an error naming each state, or, with
``drop_invalid``, dropped and listed, to be re-encoded as missing. A refused file is
read to its end, writing nothing more after the first bad row, so the error counts
every bad row, not only those of the first batch that had one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store import DEFAULT_FLUSH_ROWS, Store
from prover_data.embeddings.store.keys import hash_states
from prover_data.errors import InputError, Problem, tally


@dataclass
class ImportResult:
    file: str
    rows: int
    dim: int | None
    imported: int  # rows added by the new version
    already_present: int  # skipped: the store had them, or the file repeats a state
    dropped: int  # invalid rows dropped (drop_invalid)
    version: str | None
    tag: str | None
    problems: list[str] = field(default_factory=list)  # one per dropped row
    dropped_by_rule: dict[str, int] = field(default_factory=dict)  # ``errors.tally`` of them

    def as_dict(self) -> dict:
        return asdict(self)


def import_burnqed(store: Store, path: str | Path, *, encoder: EncoderSpec, dtype: str, tag: str | None = None,
                   drop_invalid: bool = False, expected_dim: int | None = None, batch_rows: int = 8192,
                   flush_rows: int = DEFAULT_FLUSH_ROWS, progress=None) -> ImportResult:
    from prover_data.inputs.burnqed_embeddings import iter_burnqed_embeddings

    path = Path(path)
    encoder.check(str(path))
    rows = dropped = 0
    problems: list[Problem] = []
    refused: list = []  # every problem, once the file is known to be refused
    task = None
    if progress is not None:
        import pyarrow.parquet as pq

        try:
            total = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # the reader below names what is wrong with the file
            total = None
        task = progress.add_task(f"importing {path.name} as {dtype}", total=total)
    with store.writer(encoder, dtype, expected_dim=expected_dim, flush_rows=flush_rows, source=str(path)) as writer:
        cached_space = store.select(store.resolve("HEAD"), encoder=encoder.id, dtype=dtype)
        for states, vectors in iter_burnqed_embeddings(path, batch_rows):
            texts = states.to_pylist()
            keys = hash_states(texts)
            keep = np.ones(len(keys), bool)
            for space in cached_space:
                keep &= ~space.index.contains(keys)
            row_ids = np.flatnonzero(keep) + rows  # problems name the file's rows
            if not keep.all():
                keys, vectors = keys[keep], vectors[keep]
                texts = [t for t, k in zip(texts, keep) if k]
            if refused:
                refused += writer.check(keys, vectors, texts=texts, row_offset=row_ids)[3]
            else:
                try:
                    bad = writer.add(keys, vectors, texts=texts, row_offset=row_ids, drop_invalid=drop_invalid)
                except InputError as e:
                    refused = list(e.problems)
                    bad = []
                dropped += len(bad)
                problems.extend(bad)
            rows += len(states)
            if progress is not None:
                progress.advance(task, len(states))
        if refused:
            raise InputError(refused)
        result = writer.commit(f"import {path.name} ({dtype}, {encoder.model})", tag=tag)
    if result.version is None:
        raise InputError.one(str(path), "nothing imported: every row was invalid")
    dim = writer.dim
    return ImportResult(file=str(path), rows=rows, dim=dim, imported=result.added_rows,
                        already_present=rows - dropped - result.added_rows, dropped=dropped,
                        version=result.version.id, tag=tag, problems=[str(p) for p in problems],
                        dropped_by_rule=tally(problems))
