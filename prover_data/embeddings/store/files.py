"""The files of an embedding store: segments (blocks of vectors) and versions (commits).

Both are immutable once written and named by a digest of their content, so the same
vectors written twice get the same ids, and a reader holding one open never sees it
change (see ``store``'s docstring for the layout of a store directory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prover_data.atomic import atomic_dir
from prover_data.embeddings.fingerprint import EncoderSpec
from prover_data.embeddings.store.dtypes import storage_dtype
from prover_data.embeddings.store.keys import sort_order
from prover_data.identity import bytes_digest

FORMAT = "prover-data.embeddings"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Segment:
    """An immutable, sorted block of (key, vector) rows of one encoder and dtype."""

    id: str
    path: Path
    rows: int
    dim: int
    dtype: str
    encoder: EncoderSpec

    @property
    def encoder_id(self) -> str:
        return self.encoder.id

    @classmethod
    def load(cls, path: Path) -> "Segment":
        meta = json.loads((path / "segment.json").read_text(encoding="utf-8"))
        return cls(id=meta["id"], path=path, rows=meta["rows"], dim=meta["dim"], dtype=meta["dtype"],
                   encoder=EncoderSpec.from_dict(meta["encoder"]))

    def keys(self) -> np.ndarray:
        return np.load(self.path / "keys.npy", mmap_mode="r")

    def vectors(self) -> np.ndarray:
        return np.load(self.path / "vectors.npy", mmap_mode="r")

    def nbytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir())


def write_segment(parent: Path, keys: np.ndarray, vectors: np.ndarray, encoder: EncoderSpec, dtype: str) -> Segment:
    """Write rows as ``parent/<id>`` (sorted by key; id = content digest), atomically."""
    order = sort_order(keys)
    keys = np.ascontiguousarray(keys[order])
    vectors = np.ascontiguousarray(vectors[order], dtype=storage_dtype(dtype))
    keys_digest = bytes_digest(keys.tobytes())
    vectors_digest = bytes_digest(memoryview(vectors).cast("B"))
    seg_id = bytes_digest(f"{encoder.id}|{dtype}|{vectors.shape}|{keys_digest}|{vectors_digest}".encode()).split(":")[1][:16]
    final = parent / seg_id
    if not (final / "segment.json").is_file():
        meta = {"format_version": FORMAT_VERSION, "id": seg_id, "rows": len(keys), "dim": int(vectors.shape[1]),
                "dtype": dtype, "encoder": encoder.as_dict(), "encoder_id": encoder.id,
                "keys_digest": keys_digest, "vectors_digest": vectors_digest}
        with atomic_dir(final) as tmp:
            np.save(tmp / "keys.npy", keys)
            np.save(tmp / "vectors.npy", vectors)
            (tmp / "segment.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Segment.load(final)


@dataclass(frozen=True)
class Version:
    """One commit (``versions/<id>.json``): its parent and every segment it holds."""

    id: str
    number: int
    parent: str | None
    segments: tuple[str, ...]
    added: tuple[str, ...]
    message: str = ""

    def as_dict(self) -> dict:
        return {"format_version": FORMAT_VERSION, "id": self.id, "number": self.number, "parent": self.parent,
                "segments": list(self.segments), "added": list(self.added), "message": self.message}

    @classmethod
    def from_dict(cls, d: dict) -> "Version":
        return cls(id=d["id"], number=d["number"], parent=d["parent"], segments=tuple(d["segments"]),
                   added=tuple(d["added"]), message=d.get("message", ""))


def version_id(parent: str | None, segments: list[str]) -> str:
    """A digest of parent and segments: the same commit made twice gets the same id."""
    text = json.dumps({"parent": parent, "segments": segments}, separators=(",", ":"))
    return bytes_digest(text.encode()).split(":")[1][:16]


@dataclass
class CommitResult:
    """What a commit did, for the command that reports it."""

    version: Version | None  # the new version, or HEAD when nothing was new
    created: bool  # a new version was made
    added_rows: int
    skipped_rows: int  # already present in HEAD (another writer got there first) or duplicates
    tag: tuple[str, str | None, str] | None = None  # (name, old id, new id) when a tag was set or moved
