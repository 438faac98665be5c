"""The contrastive sampler's optional *embedding* tier: negatives nearest the positive.

Siblings (hard) and same-theorem non-siblings (medium) are negatives by their place in
a search tree. The embedding tier picks negatives by what the encoder sees: for each
positive a sample starts from (``contrastive_anchors``), the ``embedding_pool``
negative states of its split whose vectors are nearest by cosine
(``neighbors.hard_negatives``, faiss). These are the negatives an
EBM over this encoder finds hardest to rank below the positive, mined from every
theorem of the split and never from the other split (a val state in a train sample
would leak val theorems into training).

The vectors are an input like any file. The store version is pinned when the build
starts (the manifest's ``[embeddings] tag`` when the store has it, else HEAD) and the
lock records a digest of the vectors used (their segment ids, which are content
digests), so re-encoding makes the build stale and the same vectors give the same
table (the same vectors in other segments count as new: a needless rebuild, never a
stale one). States with no vector are left out of the search and counted in the
report; a positive with no neighbours passes its embedding quota on to the medium tier.

``sql/45_embedding_tier_states.sql`` says which states are searched;
``sql/46_contrastive_samples.sql`` draws from the neighbour table registered here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prover_data.errors import InputError

if TYPE_CHECKING:  # numpy and pyarrow are imported where they are used: a build that is up to date needs neither
    import numpy as np
    import pyarrow as pa


def neighbours_schema() -> "pa.Schema":
    """``embedding_neighbors_input``: a positive's nearest negative states, ``idx`` 0 the nearest."""
    import pyarrow as pa

    return pa.schema([("split", pa.string()), ("pos_state_hash", pa.binary()), ("idx", pa.int32()),
                      ("state_hash", pa.binary()), ("cosine", pa.float32())])


TABLE = "embedding_neighbors_input"
KEEP_TABLE = "embedding_neighbors_keep_input"


@dataclass(frozen=True)
class Pin:
    """The vectors a build's embedding tier reads: one (encoder, dtype) space of a version."""

    store_path: Path
    store_rel: str  # as the lock names it, relative to the data root
    ref: str
    version_id: str
    space: object  # store.Space
    k: int
    kind: str

    def digest(self) -> str:
        from prover_data.identity import bytes_digest

        ids = sorted(seg.id for seg in self.space.segments)
        return bytes_digest(f"{self.space.encoder_id}|{self.space.dtype}|{','.join(ids)}".encode())

    def lock_entry(self):
        from prover_data.build.lock import InputEntry

        size = sum(seg.nbytes() for seg in self.space.segments)
        return InputEntry("embeddings", self.store_rel, size, self.digest(), rows=len(self.space))


@dataclass(frozen=True)
class Neighbours:
    table: pa.Table  # neighbours_schema(), sorted by (split, pos_state_hash, idx)
    stats: dict  # per split: anchors, anchors_with_vector, pool, pool_with_vector, mean_cosine
    keep: pa.Table  # neighbours_schema() rows under false_negatives = "keep", for the anchors at risk (see sql/45)

    def report(self, pin: Pin) -> dict:
        return {"store": pin.store_rel, "ref": pin.ref, "version": pin.version_id, "encoder": pin.space.describe(),
                "pool": pin.k, "index": pin.kind, "vectors": pin.digest(), "splits": self.stats}


def enabled(manifest) -> bool:
    return manifest.contrastive.embedding_ratio > 0


def pin(manifest) -> Pin:
    """The store space the tier reads, or an ``InputError`` saying how to fill it."""
    from prover_data.embeddings.manifest_encoder import manifest_encoder
    from prover_data.embeddings.store import Store

    emb = manifest.embeddings
    store_path = manifest.resolve(emb.store)
    rel = os.path.relpath(store_path, manifest.root)
    hint = (f"the contrastive embedding tier (embedding_ratio = {manifest.contrastive.embedding_ratio}) needs "
            f"{emb.dtype} vectors of {emb.encoder}; encode the states with `prover-data embed {manifest.name}`")
    if not Store.exists(store_path):
        raise InputError.one(str(store_path), f"no embedding store here: {hint}", key="contrastive.embedding_ratio")
    store = Store.open(store_path)
    ref = emb.tag if emb.tag and emb.tag in store.tags() else "HEAD"
    version = store.resolve(ref)
    spec = manifest_encoder(manifest, store)
    spaces = store.select(version, encoder=spec, dtype=emb.dtype)
    if not spaces:
        raise InputError.one(str(store_path), f"version {version.id if version else '(empty)'} ({ref}) holds no "
                                              f"matching vectors: {hint}", key="contrastive.embedding_ratio")
    c = manifest.contrastive
    return Pin(store_path, rel, ref, version.id, spaces[0], c.embedding_pool, c.embedding_index)


def neighbours(con, pinned: Pin) -> Neighbours:
    """Each split's anchor positive states and their ``pinned.k`` nearest negative states.

    ``Neighbours.keep`` holds what ``false_negatives = "keep"`` would search instead, for
    the anchors that could draw their own state (empty unless the manifest excludes).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from prover_data.embeddings.store.keys import key_matrix

    states = con.sql("SELECT split, role, state_hash FROM embedding_tier_states "
                     "ORDER BY split, role, state_hash").to_arrow_table()
    parts, keep_parts, stats = [], [], {}
    for split in ("train", "val"):
        def keys(role: str) -> np.ndarray:
            mask = pc.and_(pc.equal(states.column("split"), split), pc.equal(states.column("role"), role))
            return key_matrix(states.column("state_hash").filter(mask))

        anchors, pool = keys("anchor"), keys("pool")
        part, found = _nearest(pinned, split, anchors, pool)
        parts.append(part)
        stats[split] = {"anchors": len(anchors), "anchors_with_vector": found["anchors"], "pool": len(pool),
                        "pool_with_vector": found["pool"], "neighbours": part.num_rows,
                        "mean_cosine": found["mean_cosine"]}
        keep_parts.append(_nearest(pinned, split, keys("anchor_keep"), keys("pool_keep"))[0])
    return Neighbours(pa.concat_tables(parts), stats, pa.concat_tables(keep_parts))


def _nearest(pinned: Pin, split: str, anchors: np.ndarray, pool: np.ndarray) -> tuple[pa.Table, dict]:
    """(``neighbours_schema()`` rows of one split, counts of states with a vector and mean cosine)."""
    import numpy as np
    import pyarrow as pa

    from prover_data.embeddings.neighbors import hard_negatives
    from prover_data.embeddings.store.keys import to_arrow

    anchors_in = anchors[pinned.space.lookup(anchors) >= 0]
    pool_in = pool[pinned.space.lookup(pool) >= 0]
    found = {"anchors": len(anchors_in), "pool": len(pool_in), "mean_cosine": None}
    if not len(anchors_in) or not len(pool_in):
        return neighbours_schema().empty_table(), found
    hashes, cosines = hard_negatives(pinned.space, anchors_in, pool_in, k=pinned.k, kind=pinned.kind)
    real = np.isfinite(cosines)
    ranks = np.cumsum(real, axis=1) - 1  # padding (a pool smaller than k) comes last
    anchor_of = np.repeat(np.arange(len(anchors_in)), real.sum(axis=1))
    found["mean_cosine"] = round(float(cosines[real].mean()), 6)
    return pa.table({
        "split": pa.array([split] * int(real.sum()), pa.string()),
        "pos_state_hash": to_arrow(anchors_in[anchor_of]).cast(pa.binary()),
        "idx": pa.array(ranks[real], pa.int32()),
        "state_hash": to_arrow(hashes[real]).cast(pa.binary()),
        "cosine": pa.array(cosines[real], pa.float32()),
    }, schema=neighbours_schema()), found


def register(con, found: Neighbours) -> None:
    """Make ``found`` what ``contrastive_samples`` draws its embedding tier from."""
    for name, table in ((TABLE, found.table), (KEEP_TABLE, found.keep)):
        con.execute(f"DELETE FROM {name}").fetchall()
        con.from_arrow(table).insert_into(name)


class EmbeddingTier:
    """The embedding tier as one stage of a build, off unless the manifest turns it on.

    It is what the build knows of the tier, in one place: the vectors it reads are an
    input (``lock_entries``, pinned before the build decides whether it is up to date),
    its neighbours are searched once the negatives exist and before the samples are
    drawn (``prepare``), and the report says what it found (``stats``).
    """

    def __init__(self, manifest):
        self.pinned = pin(manifest) if enabled(manifest) else None
        self.found: Neighbours | None = None

    def lock_entries(self) -> list:
        return [self.pinned.lock_entry()] if self.pinned else []

    def prepare(self, con) -> None:
        if self.pinned:
            self.found = neighbours(con, self.pinned)
            register(con, self.found)

    def stats(self) -> dict | None:
        return self.found.report(self.pinned) if self.found else None
