"""Drift between two sets of vectors for the same states: the report's "cosine 0.945 vs 0.9988".

Each side is a *space* of a store version: ``REF[:DTYPE[:ENCODER]]`` (a version id,
tag or HEAD; optionally the dtype and the encoder id or model when the version holds
several). For every state present on both sides the cosine of its two vectors is
computed (in float32, from the exact stored values); the summary gives the mean, the
1st and 5th percentiles, the minimum and how many fall below a threshold. bf16 vs
fp16 encodings of one model land far below fp16 vs fp16 re-runs, which is the check
that would have caught the incident before training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from prover_data.embeddings.store import Space, Store
from prover_data.embeddings.store.keys import hex_of
from prover_data.errors import InputError

CHUNK_ROWS = 4096


@dataclass
class Drift:
    a: str
    b: str
    common: int
    only_a: int
    only_b: int
    threshold: float
    below: int
    mean: float | None
    p1: float | None
    p5: float | None
    median: float | None
    min: float | None
    worst: list[dict] = field(default_factory=list)  # lowest-cosine states: hash, cosine
    histogram: dict = field(default_factory=dict)  # bin edges and counts, for plots

    def as_dict(self) -> dict:
        return asdict(self)


def parse_side(store: Store, text: str) -> tuple[str, Space]:
    """``REF[:DTYPE[:ENCODER]]`` -> (label, space)."""
    ref, _, rest = text.partition(":")
    dtype, _, encoder = rest.partition(":")
    version = store.resolve(ref or "HEAD")
    spaces = store.select(version, encoder=encoder or None, dtype=dtype or None)
    if len(spaces) != 1:
        listing = "; ".join(f"{s.dtype} {s.encoder_id} ({s.encoder.model}, {len(s):,})"
                            for s in store.spaces(version)) or "no vectors"
        what = "nothing" if not spaces else f"{len(spaces)} spaces"
        raise InputError.one(text, f"'{text}' selects {what} in version {version.id if version else '(empty)'} "
                                   f"(it holds: {listing}); write REF:DTYPE or REF:DTYPE:ENCODER_ID")
    return f"{version.id}:{spaces[0].dtype}:{spaces[0].encoder_id}", spaces[0]


def cosines(a: Space, b: Space, keys: np.ndarray) -> np.ndarray:
    """Cosine of a's and b's vectors of each key (all present in both), chunked."""
    ra, rb = a.rows(keys), b.rows(keys)
    out = np.empty(len(keys), np.float64)
    for start in range(0, len(keys), CHUNK_ROWS):
        va = a.gather(ra[start:start + CHUNK_ROWS]).astype(np.float64)
        vb = b.gather(rb[start:start + CHUNK_ROWS]).astype(np.float64)
        dot = np.einsum("ij,ij->i", va, vb)
        norms = np.sqrt(np.einsum("ij,ij->i", va, va) * np.einsum("ij,ij->i", vb, vb))
        out[start:start + CHUNK_ROWS] = dot / norms
    return out


def compare(store: Store, a: str, b: str, *, threshold: float = 0.99, worst: int = 10) -> tuple[Drift, np.ndarray]:
    """(summary, per-state cosines in key order of the common states)."""
    label_a, space_a = parse_side(store, a)
    label_b, space_b = parse_side(store, b)
    if space_a.dim != space_b.dim:
        raise InputError.one(b, f"dimension {space_b.dim} differs from {a}'s {space_a.dim}: not the same encoder")
    keys_a = space_a.keys()
    in_b = space_b.index.contains(keys_a)
    common = keys_a[in_b]
    cos = cosines(space_a, space_b, common)
    only_b = len(space_b) - int(in_b.sum())
    summary = Drift(a=label_a, b=label_b, common=len(common), only_a=int((~in_b).sum()), only_b=only_b,
                    threshold=threshold, below=int((cos < threshold).sum()), mean=None, p1=None, p5=None,
                    median=None, min=None)
    if len(cos):
        summary.mean = float(cos.mean())
        summary.p1, summary.p5, summary.median = (float(x) for x in np.percentile(cos, [1, 5, 50]))
        summary.min = float(cos.min())
        lowest = np.argsort(cos, kind="stable")[:worst]
        summary.worst = [{"state_hash": hex_of(common[i]), "cosine": float(cos[i])} for i in lowest]
        lo = min(float(cos.min()), threshold)
        counts, edges = np.histogram(cos, bins=50, range=(lo, 1.0))
        summary.histogram = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
    return summary, cos


def plot(summary: Drift, path) -> None:
    """Histogram of per-state cosines with the threshold marked (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from prover_data.atomic import atomic_file

    fig, ax = plt.subplots(figsize=(7, 3.5))
    edges, counts = summary.histogram["edges"], summary.histogram["counts"]
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#4c72b0")
    ax.axvline(summary.threshold, color="#c44e52", linestyle="--", label=f"threshold {summary.threshold}")
    ax.set_xlabel("cosine(A, B) per state")
    ax.set_ylabel("states")
    ax.set_title(f"mean {summary.mean:.4f}, p1 {summary.p1:.4f}, {summary.below:,} of {summary.common:,} below")
    ax.legend()
    fig.tight_layout()
    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
