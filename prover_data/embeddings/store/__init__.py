"""The versioned embedding store: state hash -> vector, tagged with encoder and dtype.

Layout of a store directory::

    store.json                  format marker
    HEAD                        id of the newest version
    versions/<id>.json          one commit: parent, the full segment list, what it added
    tags/<name>                 a version id (tags move only forward, see ``set_tag``)
    segments/<id>/              keys.npy (uint8 [n, 16], sorted), vectors.npy ([n, dim],
                                raw float16 / bfloat16-as-uint16 / float32), segment.json
                                (rows, dim, dtype, encoder fingerprint, content digests)
    pending/<pid>-<nonce>/      finished but uncommitted segments of a running writer
    .lock                       held while committing

Why it is built this way:

* **Immutable versions.** A write never changes a file that a reader may hold open: it
  adds segment directories (each made visible by one rename) and a commit file, then
  moves ``HEAD``. A version is its parent plus new segments, so a reader that pinned a
  version (or a tag) reads the same vectors forever. Segment and version ids are
  content digests: the same vectors written twice get the same ids.
* **One key, one vector per (encoder, dtype).** Vectors are grouped into *spaces* by
  encoder fingerprint and dtype (``Space``). Within a space a state has at most one
  vector: a commit takes the store lock, re-reads ``HEAD`` and drops every key another
  writer committed meanwhile, so two concurrent writers neither lose nor duplicate
  keys. fp16 and bf16 vectors of one model are two spaces; a training read must say
  which one it wants (``select``), which is what makes the report's bf16/fp16 mix loud.
* **Raw precision.** fp16/bf16 are stored as their 2-byte values in ``.npy`` files that
  can be memory-mapped: the store is the raw bytes plus 16 bytes of key per vector
  (1.002x at dim 4096), where BurnQED's f64 parquet took 4x.
* **Bad vectors never get in.** Zero (L2 norm < 1e-6), NaN and Inf vectors, vectors
  that overflow or underflow the target dtype, and vectors of the wrong dimension are
  rejected at write, each offending state named by hash and a snippet of its text.
* **Finished work survives a kill.** A writer flushes finished vectors to
  ``pending/`` segments (atomic renames) as it goes; a later writer of the same
  encoder and dtype adopts the segments of a dead writer, so an interrupted encode
  resumes without recomputing them. Only ``commit`` makes them part of a version.

This module, the package's face, holds the ``Store`` and its ``Writer``; their parts
live beside it: ``files`` (segments and versions), ``spaces`` (one encoder and dtype of
a version), ``pending`` (uncommitted segments of writers), ``vector_checks``, ``dtypes``
and ``keys``. None of the parts imports this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from prover_data.atomic import atomic_write_text, exclusive
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store.dtypes import DTYPES, storage_dtype, to_storage
from prover_data.embeddings.store.files import (FORMAT, FORMAT_VERSION, CommitResult, Segment, Version, version_id,
                                                write_segment)
from prover_data.embeddings.store.keys import HashIndex, first_occurrences, key_matrix
from prover_data.embeddings.store.pending import adopt_orphans, new_writer_dir, orphaned, release
from prover_data.embeddings.store.spaces import Space
from prover_data.embeddings.store.vector_checks import check_vectors, name_states, row_number
from prover_data.errors import InputError, Problem
from prover_data.identity import STATE_HASH_BYTES

DEFAULT_FLUSH_ROWS = 4096  # a kill loses at most this many finished vectors
_TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


class Store:
    """A store directory. Open with ``Store.open(path)``; see the module docstring."""

    def __init__(self, path: Path):
        self.path = path
        self._segments: dict[str, Segment] = {}

    # -- opening ----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = False) -> "Store":
        path = Path(path).expanduser().resolve()
        marker = path / "store.json"
        if not marker.is_file():
            if not create:
                hint = "" if path.exists() else " (it does not exist yet: prover-data embed or embeddings import create it)"
                raise InputError.one(str(path), f"not an embedding store: no store.json{hint}")
            path.mkdir(parents=True, exist_ok=True)
            # Under the store's lock: two processes creating one store at once must
            # not see each other's half-written marker as a foreign, non-empty folder.
            with exclusive(path / ".lock", wait=True, what="the embedding store"):
                if not marker.is_file():
                    if any(p.name != ".lock" for p in path.iterdir()):
                        raise InputError.one(str(path), "not an embedding store (no store.json) and not empty; "
                                                        "refusing to write into it")
                    atomic_write_text(marker, json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION},
                                                         indent=1) + "\n")
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise InputError.one(str(marker), f"unknown store format {meta!r} (this version reads "
                                              f"{FORMAT} version {FORMAT_VERSION})")
        return cls(path)

    @classmethod
    def exists(cls, path: str | os.PathLike) -> bool:
        return (Path(path) / "store.json").is_file()

    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    @property
    def weights_cache(self) -> Path:
        return self.path / ".weights-digests.json"

    @contextlib.contextmanager
    def _locked(self):
        with exclusive(self.lock_path, wait=True, what="the embedding store"):
            yield

    # -- versions and tags ---------------------------------------------------------
    def head_id(self) -> str | None:
        try:
            return (self.path / "HEAD").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def version(self, version_id: str) -> Version:
        path = self.path / "versions" / f"{version_id}.json"
        try:
            return Version.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InputError.one(str(self.path), f"no version '{version_id}' in this store") from None

    def versions(self) -> list[Version]:
        folder = self.path / "versions"
        if not folder.is_dir():
            return []
        out = [Version.from_dict(json.loads(p.read_text(encoding="utf-8"))) for p in folder.glob("*.json")]
        return sorted(out, key=lambda v: (v.number, v.id))

    def tags(self) -> dict[str, str]:
        folder = self.path / "tags"
        if not folder.is_dir():
            return {}
        return {p.name: p.read_text(encoding="utf-8").strip() for p in sorted(folder.iterdir())
                if not p.name.startswith(".")}

    def resolve(self, ref: str | None = "HEAD") -> Version | None:
        """A version from ``HEAD``, a tag, a version id or a unique id prefix; None for an empty store's HEAD."""
        if ref in (None, "HEAD"):
            head = self.head_id()
            return self.version(head) if head else None
        tag = self.path / "tags" / ref
        if _TAG_NAME.fullmatch(ref) and tag.is_file():
            return self.version(tag.read_text(encoding="utf-8").strip())
        if (self.path / "versions" / f"{ref}.json").is_file():
            return self.version(ref)
        if len(ref) >= 4 and re.fullmatch(r"[0-9a-f]+", ref):
            hits = [v for v in self.versions() if v.id.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise InputError.one(str(self.path), f"version prefix '{ref}' is ambiguous ({len(hits)} versions)")
        tags = ", ".join(self.tags()) or "none"
        raise InputError.one(str(self.path), f"no version or tag '{ref}' in this store (tags: {tags}; "
                                             "prover-data embeddings list shows versions)")

    def is_ancestor(self, older: str, newer: str) -> bool:
        current: str | None = newer
        while current is not None:
            if current == older:
                return True
            current = self.version(current).parent
        return False

    def set_tag(self, name: str, ref: str, *, force: bool = False) -> tuple[str | None, str]:
        """Point tag ``name`` at ``ref``; (old id, new id).

        A tag moves only forward, to a descendant of the version it names (whose
        vectors are a superset), unless ``force``: a trainer pinned to a tag must never
        find a vector changed under it by accident.
        """
        with self._locked():
            return self._set_tag_locked(name, ref, force=force)

    def _set_tag_locked(self, name: str, ref: str, *, force: bool) -> tuple[str | None, str]:
        if not _TAG_NAME.fullmatch(name) or name == "HEAD" or re.fullmatch(r"[0-9a-f]{16}", name):
            raise InputError.one(str(self.path), f"bad tag name '{name}' (letters, digits, '_', '.', '+', '-'; "
                                                 "not HEAD, not a version id)")
        target = self.resolve(ref)
        if target is None:
            raise InputError.one(str(self.path), "the store is empty: nothing to tag")
        old = self.tags().get(name)
        if old == target.id:
            return old, target.id
        if old is not None and not force and not self.is_ancestor(old, target.id):
            raise InputError.one(str(self.path), f"tag '{name}' names version {old}, which is not an ancestor of "
                                                 f"{target.id}; moving it would change vectors under its readers "
                                                 "(pass --force to move it anyway)")
        atomic_write_text(self.path / "tags" / name, target.id + "\n")
        return old, target.id

    # -- reading ---------------------------------------------------------------------
    def segment(self, segment_id: str) -> Segment:
        seg = self._segments.get(segment_id)
        if seg is None:
            path = self.path / "segments" / segment_id
            if not (path / "segment.json").is_file():
                raise InputError.one(str(path), "segment listed by a version is missing: the store is damaged")
            seg = self._segments[segment_id] = Segment.load(path)
        return seg

    def spaces(self, version: Version | None) -> list[Space]:
        """The (encoder, dtype) spaces of a version, largest first."""
        if version is None:
            return []
        groups: dict[tuple[str, str], list[Segment]] = {}
        for sid in version.segments:
            seg = self.segment(sid)
            groups.setdefault((seg.encoder_id, seg.dtype), []).append(seg)
        spaces = [Space(segs) for segs in groups.values()]
        return sorted(spaces, key=lambda s: (-len(s), s.encoder_id, s.dtype))

    def select(self, version: Version | None, *, encoder: EncoderSpec | str | None = None,
               dtype: str | None = None) -> list[Space]:
        """Spaces of ``version`` for an encoder (a fingerprint to match, or an encoder id/model) and dtype."""
        out = []
        for space in self.spaces(version):
            if dtype is not None and space.dtype != dtype:
                continue
            if isinstance(encoder, EncoderSpec) and not space.encoder.matches(encoder):
                continue
            if isinstance(encoder, str) and encoder not in (space.encoder_id, space.encoder.model):
                continue
            out.append(space)
        return out

    def contains(self, hashes, encoder: EncoderSpec, dtype: str, *, ref: str | None = "HEAD") -> np.ndarray:
        """Which ``hashes`` have a vector for this encoder and dtype at ``ref``."""
        keys = key_matrix(hashes)
        found = np.zeros(len(keys), bool)
        for space in self.select(self.resolve(ref), encoder=encoder, dtype=dtype):
            found |= space.index.contains(keys)
        return found

    def missing(self, states, encoder: EncoderSpec, dtype: str, *, ref: str | None = "HEAD"):
        """Only what must be encoded: ``states`` (a table with ``state_hash``, or hashes) minus those cached."""
        if isinstance(states, pa.Table):
            return states.filter(pa.array(~self.contains(states.column("state_hash"), encoder, dtype, ref=ref)))
        keys = key_matrix(states)
        return keys[~self.contains(keys, encoder, dtype, ref=ref)]

    def pending(self) -> list[tuple[str, bool, Segment]]:
        """(writer dir, writer alive, segment) of every uncommitted segment."""
        out = []
        folder = self.path / "pending"
        if folder.is_dir():
            for wdir in sorted(folder.iterdir()):
                if wdir.is_dir() and not wdir.name.startswith("."):
                    alive = not orphaned(wdir)
                    for sdir in sorted(wdir.iterdir()):
                        if (sdir / "segment.json").is_file():
                            out.append((wdir.name, alive, Segment.load(sdir)))
        return out

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    # -- writing ---------------------------------------------------------------------
    def writer(self, encoder: EncoderSpec, dtype: str, *, expected_dim: int | None = None,
               flush_rows: int = DEFAULT_FLUSH_ROWS, source: str | None = None) -> "Writer":
        return Writer(self, encoder, dtype, expected_dim=expected_dim, flush_rows=flush_rows, source=source)

    def write(self, hashes, vectors, *, encoder: EncoderSpec, dtype: str, texts=None, message: str = "",
              tag: str | None = None, source: str | None = None, expected_dim: int | None = None) -> CommitResult:
        """Add vectors in one new version (only keys not yet present); see ``Writer.add``."""
        with self.writer(encoder, dtype, expected_dim=expected_dim, source=source) as w:
            w.add(hashes, vectors, texts=texts)
            return w.commit(message, tag=tag)

    def _recover_locked(self) -> None:
        """Finish a commit that died after writing its version file but before moving HEAD."""
        head = self.head_id()
        number = self.version(head).number if head else 0
        for v in self.versions():
            if v.parent == head and v.number == number + 1 and all(
                    (self.path / "segments" / s / "segment.json").is_file() for s in v.segments):
                atomic_write_text(self.path / "HEAD", v.id + "\n")
                head, number = v.id, v.number


class Writer:
    """Adds vectors of one encoder and dtype; ``commit`` makes them a new version.

    Use as a context manager. Vectors are validated in ``add`` (nothing invalid is
    kept), buffered, and flushed every ``flush_rows`` rows to a pending segment, so a
    killed process keeps its finished work: the next writer of the same encoder and
    dtype adopts it (``adopted_rows``), and ``contains`` counts it as done.
    Leaving the block without ``commit`` (an exception, Ctrl-C) flushes what was
    added and leaves it pending for the next run.
    """

    def __init__(self, store: Store, encoder: EncoderSpec, dtype: str, *, expected_dim: int | None = None,
                 flush_rows: int = DEFAULT_FLUSH_ROWS, source: str | None = None):
        if dtype not in DTYPES:
            raise InputError.one(source or str(store.path), f"unknown dtype '{dtype}' (expected one of: {', '.join(DTYPES)})")
        self.store, self.encoder, self.dtype = store, encoder, dtype
        self.flush_rows = max(1, flush_rows)
        self.source = source or str(store.path)
        self.dir = new_writer_dir(store.path)
        self._buf_keys: list[np.ndarray] = []
        self._buf_vecs: list[np.ndarray] = []
        self._buffered = 0
        self._index: HashIndex | None = None
        self.committed: CommitResult | None = None
        with store._locked():
            self.adopted_rows = adopt_orphans(self.dir, encoder.id, dtype)
        self.segments: list[Segment] = [Segment.load(p) for p in sorted(self.dir.iterdir())
                                        if (p / "segment.json").is_file()]
        head_dims = {s.dim for s in store.select(store.resolve("HEAD"), encoder=encoder.id, dtype=dtype)}
        head_dims |= {s.dim for s in self.segments}
        if expected_dim is not None and head_dims and expected_dim not in head_dims:
            raise InputError.one(self.source, f"expected dimension {expected_dim}, but the store already holds "
                                              f"{encoder.model} {dtype} vectors of dimension {sorted(head_dims)[0]}")
        self.dim = expected_dim if expected_dim is not None else (min(head_dims) if head_dims else None)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        if self.committed is None:
            self.flush()
            release(self.dir)

    # -- adding ----------------------------------------------------------------------------
    @property
    def pending_rows(self) -> int:
        return sum(s.rows for s in self.segments) + self._buffered

    def contains(self, hashes) -> np.ndarray:
        """Which hashes this writer already holds (adopted, flushed or buffered)."""
        if self._index is None:
            parts = [s.keys() for s in self.segments] + self._buf_keys
            self._index = HashIndex(np.concatenate(parts) if parts else np.zeros((0, STATE_HASH_BYTES), np.uint8))
        return self._index.contains(hashes)

    def add(self, hashes, vectors: np.ndarray, *, texts=None, row_offset: int | np.ndarray = 0, raw: bool = False,
            drop_invalid: bool = False) -> list[Problem]:
        """Validate and buffer vectors; return the problems of rows dropped (``drop_invalid``).

        ``vectors`` are floats ([n, dim], any float precision) cast to the writer's dtype
        here, or (``raw``) values already in the stored representation. Invalid rows
        raise ``InputError`` naming every offending state, unless ``drop_invalid``.
        ``row_offset`` numbers the rows in problems: an offset, or each row's number.
        """
        keys, stored, bad, problems = self.check(hashes, vectors, texts=texts, row_offset=row_offset, raw=raw)
        if problems and not drop_invalid:
            raise InputError(problems)
        if bad.any():
            keys, stored = keys[~bad], stored[~bad]
        if len(keys):
            self._buf_keys.append(np.ascontiguousarray(keys))
            self._buf_vecs.append(np.ascontiguousarray(stored))
            self._buffered += len(keys)
            self._index = None
            if self._buffered >= self.flush_rows:
                self.flush()
        return problems

    def check(self, hashes, vectors: np.ndarray, *, texts=None, row_offset: int | np.ndarray = 0,
              raw: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Problem]]:
        """(keys, stored values, bad-row mask, problems) of vectors ``add`` would take, keeping
        nothing: an import that will be refused still reads on to name every bad row."""
        keys = key_matrix(hashes)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise InputError.one(self.source, f"expected a [{len(keys)}, dim] matrix of vectors, got shape {vectors.shape}")
        if texts is not None and isinstance(texts, (pa.Array, pa.ChunkedArray)):
            texts = texts.to_pylist()
        if self.dim is None:
            self.dim = int(vectors.shape[1])
        if vectors.shape[1] != self.dim:
            first, last = row_number(row_offset, 0), row_number(row_offset, len(keys) - 1)
            raise InputError([Problem(self.source, f"vectors have dimension {vectors.shape[1]}, expected {self.dim}: "
                                      + name_states(keys, texts, range(len(keys))), row=first,
                                      row_end=last, check="wrong_dim")])
        stored = vectors if raw else to_storage(vectors, self.dtype)
        if stored.dtype != storage_dtype(self.dtype):
            raise InputError.one(self.source, f"raw {self.dtype} vectors must be {storage_dtype(self.dtype)}, got {stored.dtype}")
        bad, problems = check_vectors(keys, None if raw else vectors, stored, self.dtype, texts=texts,
                                      source=self.source, row_offset=row_offset)
        return keys, stored, bad, problems

    def flush(self) -> None:
        """Write buffered rows as a pending segment (kept across a kill)."""
        if not self._buffered:
            return
        keys = np.concatenate(self._buf_keys)
        vecs = np.concatenate(self._buf_vecs)
        keep = first_occurrences(keys)
        seg = write_segment(self.dir, keys[keep], vecs[keep], self.encoder, self.dtype)
        if all(s.id != seg.id for s in self.segments):
            self.segments.append(seg)
        self._buf_keys, self._buf_vecs, self._buffered = [], [], 0

    # -- committing ---------------------------------------------------------------------------
    def commit(self, message: str = "", *, tag: str | None = None, tag_force: bool = False) -> CommitResult:
        """Make every pending row not yet in HEAD part of a new version (under the store lock)."""
        self.flush()
        store = self.store
        with store._locked():
            store._recover_locked()
            head = store.resolve("HEAD")
            spaces = store.select(head, encoder=self.encoder.id, dtype=self.dtype)
            dims = {s.dim for s in spaces} | {s.dim for s in self.segments}
            if len(dims) > 1:
                raise InputError.one(self.source, f"dimension {sorted(dims)} conflict for {self.encoder.model} "
                                                  f"{self.dtype} vectors; nothing committed")
            parts = [s.keys() for s in self.segments]
            all_keys = np.concatenate(parts) if parts else np.zeros((0, STATE_HASH_BYTES), np.uint8)
            keep = first_occurrences(all_keys)
            for space in spaces:
                keep &= ~space.index.contains(all_keys)
            new_ids: list[str] = []
            offset = 0
            segments_dir = store.path / "segments"
            segments_dir.mkdir(exist_ok=True)
            for seg in self.segments:
                mask = keep[offset:offset + seg.rows]
                offset += seg.rows
                if mask.all():
                    target = segments_dir / seg.id
                    if target.exists():
                        shutil.rmtree(seg.path)
                    else:
                        os.replace(seg.path, target)
                    new_ids.append(seg.id)
                elif mask.any():
                    kept = write_segment(segments_dir, seg.keys()[mask], seg.vectors()[mask], self.encoder, self.dtype)
                    new_ids.append(kept.id)
                    shutil.rmtree(seg.path)
                else:
                    shutil.rmtree(seg.path)
            added = int(keep.sum())
            version = head
            if new_ids:
                parent_segments = list(head.segments) if head else []
                segments = parent_segments + [s for s in new_ids if s not in parent_segments]
                version = Version(id=version_id(head.id if head else None, segments),
                                  number=(head.number if head else 0) + 1, parent=head.id if head else None,
                                  segments=tuple(segments), added=tuple(new_ids), message=message)
                atomic_write_text(store.path / "versions" / f"{version.id}.json",
                                  json.dumps(version.as_dict(), indent=1) + "\n")
                atomic_write_text(store.path / "HEAD", version.id + "\n")
            moved = None
            if tag is not None and version is not None:
                old, new = store._set_tag_locked(tag, version.id, force=tag_force)
                moved = (tag, old, new) if old != new else None
            self.segments = []
            self._index = None
            shutil.rmtree(self.dir, ignore_errors=True)
        self.committed = CommitResult(version=version, created=bool(new_ids), added_rows=added,
                                      skipped_rows=len(all_keys) - added, tag=moved)
        return self.committed
