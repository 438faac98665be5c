"""A dense, memory-mapped matrix of one store version's vectors, for trainers.

An export directory holds::

    vectors.npy   [n, dim] in the stored dtype (float16, bfloat16 as uint16, or float32)
    hashes.npy    uint8 [n, 16], sorted by bytes; row i of vectors belongs to hashes[i]
    meta.json     dtype, dim, encoder fingerprint, store version, row count, content digests

Rows are sorted by state hash, so the same store version, space and state set give a
byte-identical export whatever the order vectors were written in. ``DenseEmbeddings``
maps it read-only; ``rows`` turns state hashes into row numbers once (a sorted
search, no per-row Python) and ``gather`` reads a batch of rows as float32 with one
fancy-indexing copy -- the EBM's 256 x (1 + 7) vectors per step.

``export_dense`` refuses to mix: a version holding vectors of two encoders, or of two
dtypes of one encoder (the report's bf16-trained / fp16-served incident), needs an
explicit choice (``encoder=``, ``dtype=``). ``cast=`` converts the chosen vectors to
another dtype on purpose; with a cast, spaces of one encoder in different dtypes may
be combined only if they hold disjoint states.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.atomic import atomic_dir
from prover_data.build.files import Build
from prover_data.embeddings.store import Store
from prover_data.embeddings.store.dtypes import DTYPES, storage_dtype, to_float32, to_storage
from prover_data.embeddings.store.keys import HashIndex, key_matrix, missing_problem, sort_order
from prover_data.errors import InputError
from prover_data.identity import bytes_digest

FORMAT = "prover-data.dense-embeddings"
CHUNK_ROWS = 16384


class DenseEmbeddings:
    """A read-only dense matrix of one store version's vectors, memory-mapped, plus a row index."""

    dtype: str  # "float16" | "bfloat16" | "float32"
    dim: int
    encoder: dict  # encoder fingerprint
    version: str

    def __init__(self, path: Path, meta: dict, vectors: np.ndarray, hashes: np.ndarray):
        self.path, self.meta = path, meta
        self.dtype, self.dim = meta["dtype"], int(meta["dim"])
        self.encoder, self.version = meta["encoder"], meta["version"]
        self._vectors, self.hashes = vectors, hashes
        self._index: HashIndex | None = None

    @classmethod
    def open(cls, path: str | os.PathLike) -> "DenseEmbeddings":
        path = Path(path)
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            raise InputError.one(str(path), "not a dense embedding export (no meta.json): "
                                            "write one with prover-data embeddings export NAME")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise InputError.one(str(meta_path), f"unknown format {meta.get('format')!r} (expected {FORMAT})")
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
        hashes = np.load(path / "hashes.npy", mmap_mode="r")
        want = (meta["rows"], meta["dim"])
        if vectors.shape != want or hashes.shape != (meta["rows"], 16) or vectors.dtype != storage_dtype(meta["dtype"]):
            raise InputError.one(str(path), f"export is damaged: vectors {vectors.shape} {vectors.dtype}, hashes "
                                            f"{hashes.shape}, meta says {want} {meta['dtype']}")
        return cls(path, meta, vectors, hashes)

    def __len__(self) -> int:
        return len(self.hashes)

    def lookup(self, hashes) -> np.ndarray:
        """int64 row of each hash, -1 where the export has no vector for it."""
        if self._index is None:
            self._index = HashIndex(np.asarray(self.hashes), presorted=True)
        return self._index.lookup(key_matrix(hashes))

    def rows(self, hashes) -> np.ndarray:
        """int64 row of each hash; ``InputError`` naming how many and which are missing."""
        keys = key_matrix(hashes)
        rows = self.lookup(keys)
        if (rows < 0).any():
            raise missing_problem(str(self.path), keys, rows < 0,
                                  f"encode them (prover-data embed NAME) and export version {self.version} again",
                                  of="requested states")
        return rows

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """float32 [len(rows), dim]: one vectorized copy out of the memory map."""
        rows = np.asarray(rows, dtype=np.int64)
        raw = np.take(self._vectors, rows, axis=0)
        return to_float32(raw, self.dtype)

    def gather_stored(self, rows: np.ndarray) -> np.ndarray:
        """[len(rows), dim] in the stored dtype (bfloat16 as uint16): the copy out of the map alone.

        Trainers widen to float32 on their device, where it is nearly free; widening
        fp16 on the CPU costs an order of magnitude more than the copy itself.
        """
        return np.take(self._vectors, np.asarray(rows, dtype=np.int64), axis=0)

    def raw(self) -> np.ndarray:
        """The memory map in its stored dtype (bfloat16 as uint16)."""
        return self._vectors


def export_dense(store_path, version_or_tag: str | None, out_dir, *, hashes=None, dtype: str | None = None,
                 encoder: str | None = None, cast: str | None = None, missing: pa.Table | None = None,
                 progress=None) -> Path:
    """Write a dense export of one space of a store version to ``out_dir`` (atomically).

    ``hashes``: the states to export (all of the space's when None); any missing is an
    error naming them. ``dtype``/``encoder`` (an encoder id like ``enc-...`` or a model
    name) choose the space; ``cast`` converts to another dtype explicitly. ``missing``
    (``MISSING``) lists states the caller asked for that have no vector, written beside
    the vectors as ``missing.parquet`` (``export_for_build`` under ``missing = "skip"``).
    """
    store = Store.open(store_path)
    version = store.resolve(version_or_tag or "HEAD")
    if version is None:
        raise InputError.one(str(store.path), "the store is empty: nothing to export")
    for name, value in (("dtype", dtype), ("cast", cast)):
        if value is not None and value not in DTYPES:
            raise InputError.one(f"--{name}", f"expected one of {', '.join(DTYPES)}, got '{value}'")
    spaces = _one_space(store, version, encoder, dtype, cast)
    keys, where, rows = _locate(store, spaces, hashes)
    meta = {"format": FORMAT, "version": version.id, "store": str(store.path), "dtype": cast or spaces[0].dtype,
            "dim": spaces[0].dim, "rows": len(keys), "encoder": spaces[0].encoder.as_dict(),
            "encoder_id": spaces[0].encoder_id, "source_dtypes": sorted({s.dtype for s in spaces}), "cast": cast,
            "missing": 0 if missing is None else missing.num_rows}
    return _write(Path(out_dir), spaces, keys, where, rows, meta, missing, progress)


def _listing(store: Store, version) -> str:
    return "; ".join(f"{s.encoder.model} [{s.encoder_id}] {s.dtype}: {len(s):,} vectors"
                     for s in store.spaces(version)) or "none"


def _one_space(store: Store, version, encoder: str | None, dtype: str | None, cast: str | None) -> list:
    """The spaces an export reads: one encoder, and one dtype unless ``cast`` combines them."""
    spaces = store.select(version, encoder=encoder, dtype=dtype)
    listing = _listing(store, version)
    if not spaces:
        raise InputError.one(str(store.path), f"version {version.id} has no vectors for encoder={encoder or 'any'} "
                                              f"dtype={dtype or 'any'} (it has: {listing})")
    if len({s.encoder_id for s in spaces}) > 1:
        raise InputError.one(str(store.path), f"version {version.id} mixes encoders ({listing}); "
                                              "choose one with --encoder ENCODER_ID")
    if len(spaces) > 1 and cast is None:
        raise InputError.one(str(store.path), f"version {version.id} holds {' and '.join(s.dtype for s in spaces)} "
                                              f"vectors of {spaces[0].encoder.model}; training on a mix of dtypes is "
                                              "how a bf16-trained head met fp16 search vectors -- choose one with "
                                              "--dtype, or pass --cast DTYPE to combine them on purpose")
    return spaces


def _locate(store: Store, spaces: list, hashes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct keys to export, and for each its space and row; every key must have a vector."""
    listing = "; ".join(f"{s.encoder.model} [{s.encoder_id}] {s.dtype}: {len(s):,} vectors" for s in spaces)
    keys = np.concatenate([s.keys() for s in spaces]) if hashes is None else key_matrix(hashes)
    keys = keys[sort_order(keys)]
    if len(keys) > 1:  # drop duplicate requests (and duplicates across combined spaces)
        same = np.all(keys[1:] == keys[:-1], axis=1)
        if hashes is None and same.any():
            raise InputError.one(str(store.path), f"{int(same.sum()):,} states have vectors in more than one of the "
                                                  f"combined spaces ({listing}); choose one with --dtype")
        keys = keys[np.concatenate([[True], ~same])]
    where = np.full(len(keys), -1, np.int64)
    rows = np.full(len(keys), -1, np.int64)
    for i, space in enumerate(spaces):
        r = space.lookup(keys)
        both = (r >= 0) & (rows >= 0)
        if both.any():
            raise InputError.one(str(store.path), f"{int(both.sum()):,} requested states have vectors in more than "
                                                  f"one of the combined spaces ({listing}); choose one with --dtype")
        take = r >= 0
        where[take], rows[take] = i, r[take]
    if (rows < 0).any():
        raise missing_problem(str(store.path), keys, rows < 0, "encode them with prover-data embed NAME first",
                              of="requested states")
    return keys, where, rows


def _write(out_dir: Path, spaces: list, keys: np.ndarray, where: np.ndarray, rows: np.ndarray, meta: dict,
           missing: pa.Table | None, progress) -> Path:
    """vectors.npy, hashes.npy, meta.json (and missing.parquet) in one atomic directory."""
    out_dtype = meta["dtype"]
    task = progress.add_task("exporting", total=len(keys)) if progress else None
    with atomic_dir(out_dir) as tmp:
        np.save(tmp / "hashes.npy", keys)
        out = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=storage_dtype(out_dtype),
                                        shape=(len(keys), meta["dim"]))
        for start in range(0, len(keys), CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, len(keys))
            for i, space in enumerate(spaces):
                sel = np.flatnonzero(where[start:stop] == i)
                if len(sel) == 0:
                    continue
                raw = space.raw(rows[start:stop][sel])
                out[start + sel] = raw if space.dtype == out_dtype else to_storage(to_float32(raw, space.dtype), out_dtype)
            if progress:
                progress.advance(task, stop - start)
        out.flush()
        meta["hashes_digest"] = bytes_digest(keys.tobytes())
        meta["vectors_digest"] = bytes_digest(memoryview(np.ascontiguousarray(out)).cast("B"))
        del out
        if missing is not None:
            pq.write_table(missing, tmp / MISSING_FILE, compression="zstd")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out_dir


def export_for_build(build: Build, out_dir: str | Path | None = None, *,
                     ref: str | None = None, cast: str | None = None, missing: str | None = None,
                     progress=None) -> Path:
    """Export the vectors of a build's states for the manifest's encoder and dtype.

    The version is ``ref``, else the manifest's tag, else HEAD; the default output is
    ``build.embeddings`` (a rebuild that replaces ``BUILD/NAME`` removes it: export
    again). Every state of the build that has a vector is exported. Only the states the
    contrastive samples reference must have one (``referenced``; never the empty
    state): under ``missing = "refuse"`` (the manifest's ``[embeddings] missing`` unless
    given) one without a vector is an error; under ``"skip"`` the export lists them in
    ``missing.parquet`` and the EBM loader drops or refills what needs them.
    """
    from prover_data.embeddings.embed import embeddings_section
    from prover_data.embeddings.manifest_encoder import manifest_encoder
    from prover_data.embeddings.referenced import referenced_states
    from prover_data.embeddings.states import read_states

    manifest = build.manifest
    emb = embeddings_section(manifest)
    policy = missing or emb.missing
    store = Store.open(manifest.resolve(emb.store))
    if ref is None:
        ref = emb.tag if emb.tag and emb.tag in store.tags() else "HEAD"
    spec = manifest_encoder(manifest, store)
    version = store.resolve(ref)
    spaces = store.select(version, encoder=spec, dtype=emb.dtype)
    if len(spaces) != 1:
        found = "no" if not spaces else f"{len(spaces)}"
        raise InputError.one(str(store.path), f"version {version.id if version else '(empty)'} has {found} space(s) "
                                              f"matching {spec.describe()} {emb.dtype}; "
                                              "prover-data embeddings status NAME shows what is there")
    states = read_states(build)
    keys = key_matrix(states.column("state_hash"))
    present = spaces[0].lookup(keys) >= 0
    referenced = referenced_states(build)
    absent = referenced.keys[spaces[0].lookup(referenced.keys) < 0]
    if len(absent) and policy == "refuse":
        raise missing_problem(str(store.path), referenced.keys, spaces[0].lookup(referenced.keys) < 0,
                              f"they appear in {referenced.samples_touching(absent):,} of {referenced.samples:,} "
                              f"contrastive samples; encode them (prover-data embed {manifest.name}), or export "
                              "with --missing skip to train on the samples whose states have vectors",
                              of="states referenced by contrastive samples")
    listed = _missing_table(states, keys, absent) if policy == "skip" else None
    out = Path(out_dir) if out_dir is not None else build.embeddings
    return export_dense(store.path, version.id, out, hashes=keys[present], dtype=emb.dtype,
                        encoder=spaces[0].encoder_id, cast=cast, missing=listed, progress=progress)


MISSING_FILE = "missing.parquet"
MISSING = pa.schema([("state_hash", pa.binary(16)), ("state_pp", pa.string())])


def _missing_table(states: pa.Table, keys: np.ndarray, absent: np.ndarray) -> pa.Table:
    """The referenced states without a vector, with their text, sorted by hash."""
    rows = np.sort(HashIndex(keys).lookup(absent))
    return pa.table({"state_hash": states.column("state_hash").take(rows).cast(pa.binary(16)),
                     "state_pp": states.column("state_pp").take(rows)}, schema=MISSING)
