"""Separation probe: do provable and dead-end states sit apart in embedding space?

The EBM only sees the LLM's mean-pooled hidden states, so it can separate positive
from negative states no better than those embeddings do. The probe measures that
directly, for an embedding export (the store version an EBM trains on), for each
checkpoint of an LLM during fine-tuning -- the report's "Separation Probe" table --
and for the checkpoints of an EBM run (its head's last hidden layer).

Figures (BurnQED ``python/run_separation_probe.py``):
    centroid L2 = || mean(positive embeddings) - mean(negative embeddings) ||
    pos norm / neg norm = mean L2 norm of a positive / negative embedding
    norm gap = neg norm - pos norm

The probe set. Positives are states that only ever appear on proof paths
(``states.parquet``: n_positive > 0 and n_negative = 0); negatives only ever off them
(n_negative > 0 and n_positive = 0). The ~10K states carrying both labels are left
out: a state that is both cannot pull either centroid its way. (BurnQED's
``create_separation_probe.py`` labels a state by its first occurrence across the
files given and keeps depth > 1; ``states.parquet`` has neither order nor depth, and a
label that depends on file order is not a property of the state.) ``n_per_class``
states of each class are chosen by content (hash of seed and state hash), 200 by
default as in BurnQED; 0 takes every state of the class. The same set is used for
every checkpoint, so rows of one table are comparable.

Checkpoints are encoded with mean pooling of the last hidden state over the attention
mask, as the embedding store and BurnQED encode.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from prover_data.atomic import atomic_write_bytes
from prover_data.errors import InputError
from prover_data.identity import split_bucket

CHUNK = 4096  # embeddings gathered at a time: bounded memory for "all states"


@dataclass(frozen=True)
class ProbeSet:
    pos_hashes: np.ndarray  # uint8 [n, 16]
    neg_hashes: np.ndarray
    pos_texts: list[str]
    neg_texts: list[str]


@dataclass
class ProbeResult:
    source: str  # the export or checkpoint measured
    step: int | None
    epoch: float | None
    centroid_l2: float
    norm_gap: float
    pos_norm: float
    neg_norm: float
    n_pos: int
    n_neg: int

    def to_dict(self) -> dict:
        return asdict(self)


def probe_set(states_path: str | Path, n_per_class: int = 200, seed: int = 42, *,
              has_vector=None) -> ProbeSet:
    """The positive-only and negative-only states of ``states.parquet``, sampled by content.

    ``has_vector`` (hashes -> bool mask), when given, keeps only states it accepts before
    sampling: ``probe --missing skip`` probes the states every export has a vector for.
    """
    from prover_data.embeddings.store.keys import key_matrix
    from prover_data.schema import STATES
    from prover_models.data import _read_checked

    table = _read_checked(states_path, STATES, "prover-data build-manifest NAME")
    n_pos = table.column("n_positive").to_numpy()
    n_neg = table.column("n_negative").to_numpy()
    hashes = key_matrix(table.column("state_hash"))
    texts = table.column("state_pp")
    usable = np.ones(len(hashes), bool) if has_vector is None else has_vector(hashes)
    picked = []
    for mask in ((n_pos > 0) & (n_neg == 0) & usable, (n_neg > 0) & (n_pos == 0) & usable):
        idx = np.flatnonzero(mask)
        if n_per_class and len(idx) > n_per_class:
            keys = np.array([split_bucket(seed, hashes[i].tobytes().hex()) for i in idx])
            idx = np.sort(idx[np.argsort(keys, kind="stable")[:n_per_class]])
        picked.append(idx)
    pos, neg = picked
    if not len(pos) or not len(neg):
        raise InputError.one(str(states_path), f"the probe needs states of both classes; found {len(pos):,} "
                                               f"positive-only and {len(neg):,} negative-only states")
    return ProbeSet(hashes[pos].copy(), hashes[neg].copy(),
                    texts.take(pos).to_pylist(), texts.take(neg).to_pylist())


def in_every_export(exports: list):
    """``probe_set``'s ``has_vector``: the states every export (``DenseEmbeddings``) has a vector for."""
    def has_vector(hashes) -> np.ndarray:
        return np.logical_and.reduce([dense.lookup(hashes) >= 0 for dense in exports])

    return has_vector


class _Moments:
    """Running sum of vectors and of their norms, in float64."""

    def __init__(self) -> None:
        self.total, self.norms, self.n = None, 0.0, 0

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        s = x.sum(axis=0)
        self.total = s if self.total is None else self.total + s
        self.norms += float(np.linalg.norm(x, axis=1).sum())
        self.n += len(x)


def separation(pos: _Moments, neg: _Moments) -> dict[str, float]:
    centroid_l2 = float(np.linalg.norm(pos.total / pos.n - neg.total / neg.n))
    pos_norm, neg_norm = pos.norms / pos.n, neg.norms / neg.n
    return {"centroid_l2": centroid_l2, "norm_gap": neg_norm - pos_norm, "pos_norm": pos_norm, "neg_norm": neg_norm}


def probe_embeddings(embeddings, probe: ProbeSet, source: str) -> ProbeResult:
    """Separation of the probe states in a dense export (``DenseEmbeddings``)."""
    pos, neg = _export_moments(embeddings, probe, lambda x: x)
    return ProbeResult(source, None, None, **separation(pos, neg), n_pos=pos.n, n_neg=neg.n)


def _export_moments(embeddings, probe: ProbeSet, transform) -> list[_Moments]:
    """Moments of ``transform(vectors)`` of the positive, then the negative probe states."""
    moments = []
    for hashes in (probe.pos_hashes, probe.neg_hashes):
        m, rows = _Moments(), embeddings.rows(hashes)
        for start in range(0, len(rows), CHUNK):
            m.add(transform(embeddings.gather(rows[start:start + CHUNK])))
        moments.append(m)
    return moments


# --------------------------------------------------------------------------- EBM runs
#
# An energy head reads a dense export's vectors; its last hidden layer (SiLU, dropout
# off) is what its output layer reads the energy from: the head's own embedding of a
# state, the counterpart of an LLM checkpoint's last hidden state. Probing it shows
# how far training pulled the classes apart beyond the export's own separation.


EBM_CHECKPOINTS = ("best.pt", "last.pt")


def is_ebm_run(path: Path) -> bool:
    """A ``train-ebm`` run directory: ``best.pt`` or ``last.pt``, and no model files."""
    return path.is_dir() and not _is_model_dir(path) and any((path / f).is_file() for f in EBM_CHECKPOINTS)


def ebm_checkpoints(run: Path) -> list[Path]:
    return [run / f for f in EBM_CHECKPOINTS if (run / f).is_file()]


def export_for_head(checkpoint: Path, exports: list[tuple[Path, object]]) -> object:
    """The first export whose vectors are the kind ``checkpoint`` was trained on (encoder, dtype, dim)."""
    from prover_models.ebm import checkpoint_info

    want = checkpoint_info(checkpoint)["meta"].get("embeddings", {})
    for _, e in exports:
        if (e.encoder, e.dtype, e.dim) == (want.get("encoder"), want.get("dtype"), want.get("dim")):
            return e
    have = "; ".join(f"{d}: {e.dtype}, dim {e.dim}" for d, e in exports) or "none"
    raise InputError.one(str(checkpoint), f"was trained on {want.get('dtype')} embeddings of dim {want.get('dim')} "
                                          f"from encoder {want.get('encoder')}, and no export probed holds those "
                                          f"({have}); pass --embeddings DIR of the export it was trained on")


def probe_energy_head(checkpoint: Path, embeddings, probe: ProbeSet, *, device: str = "cpu") -> ProbeResult:
    """Separation of the probe states in the last hidden layer of an EBM checkpoint."""
    import torch

    from prover_models.ebm import checkpoint_info, load_energy_head

    head = load_energy_head(checkpoint, device)

    @torch.no_grad()
    def features(x: np.ndarray) -> np.ndarray:
        return head.features(torch.from_numpy(x).to(device)).cpu().numpy()

    pos, neg = _export_moments(embeddings, probe, features)
    step = checkpoint_info(checkpoint)["step"]
    return ProbeResult(str(checkpoint), step, None, **separation(pos, neg), n_pos=pos.n, n_neg=neg.n)


# --------------------------------------------------------------------------- LLM checkpoints


def find_checkpoints(paths: list[str | Path]) -> list[Path]:
    """Each path is a model/adapter directory, or a run directory holding ``checkpoint-*``."""
    out = []
    for p in map(Path, paths):
        if _is_model_dir(p):
            out.append(p)
        elif p.is_dir() and (subs := [c for c in p.glob("checkpoint-*") if _is_model_dir(c)]):
            out.extend(subs)
        else:
            raise InputError.one(str(p), "not a model or adapter directory (no config.json or "
                                         "adapter_config.json), and holds no checkpoint-* directories")
    return sorted(set(out), key=lambda c: (checkpoint_step(c)[0] is None, checkpoint_step(c)[0] or 0, str(c)))


def _is_model_dir(p: Path) -> bool:
    return (p / "config.json").is_file() or (p / "adapter_config.json").is_file()


def checkpoint_step(path: Path) -> tuple[int | None, float | None]:
    """(step, epoch) of a checkpoint, from its ``checkpoint-N`` name and trainer state.

    Reads ``trainer_state.pt`` (``prover_models.sft``: the log's epoch at that step) or
    ``trainer_state.json`` (transformers.Trainer's ``global_step`` and ``epoch``).
    """
    step = epoch = None
    digits = path.name.rsplit("-", 1)[-1]
    if digits.isdigit():
        step = int(digits)
    if (path / "trainer_state.pt").is_file():
        import torch

        state = torch.load(path / "trainer_state.pt", map_location="cpu", mmap=True, weights_only=True)
        step = state.get("step", step)
        epochs = [e["epoch"] for e in state.get("history", []) if e.get("step") == step and "epoch" in e]
        epoch = epochs[-1] if epochs else None
    elif (path / "trainer_state.json").is_file():
        data = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        step, epoch = data.get("global_step", step), data.get("epoch")
    return step, epoch


def probe_checkpoint(path: Path, probe: ProbeSet, *, base_model: str | None = None, max_length: int = 2048,
                     batch_size: int = 8, device: str = "cpu", dtype: str = "float32") -> ProbeResult:
    """Encode the probe states with one checkpoint and measure their separation."""
    import torch

    model, tokenizer = load_encoder(path, base_model=base_model, device=device, dtype=dtype)
    moments = []
    for texts in (probe.pos_texts, probe.neg_texts):
        m = _Moments()
        for start in range(0, len(texts), batch_size):
            m.add(mean_pool(model, tokenizer, texts[start:start + batch_size], max_length, device))
        moments.append(m)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    step, epoch = checkpoint_step(path)
    return ProbeResult(str(path), step, epoch, **separation(*moments), n_pos=moments[0].n, n_neg=moments[1].n)


def load_encoder(path: Path, *, base_model: str | None, device: str, dtype: str):
    """A model whose last hidden state embeds a state, and its tokenizer.

    A full model directory loads as is; a LoRA adapter directory loads its base model
    (``base_model``, else the adapter's ``base_model_name_or_path``) and applies the
    adapter. Nothing is downloaded.
    """
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    adapter = path / "adapter_config.json"
    if adapter.is_file():
        from peft import PeftModel

        base = base_model or json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base or not Path(base).is_dir():
            raise InputError.one(str(adapter), f"base model {base!r} is not a local directory; pass --base-model")
        model = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype, local_files_only=True), path)
        tok_dir = path if (path / "tokenizer_config.json").is_file() else Path(base)
    else:
        model = AutoModel.from_pretrained(path, dtype=torch_dtype, local_files_only=True)
        tok_dir = path
    tokenizer = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def mean_pool(model, tokenizer, texts: list[str], max_length: int, device: str) -> np.ndarray:
    """Mean of the last hidden state over non-padding tokens, float32 [len(texts), d]."""
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt").to(device)
    with torch.no_grad():
        hidden = model(**batch, output_hidden_states=True).hidden_states[-1].float()
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).cpu().numpy()


# --------------------------------------------------------------------------- reporting

TABLE_COLUMNS = ("Step", "Epoch", "Centroid L2", "Norm Gap", "Pos Norm", "Neg Norm")


def probe_table(results: list[ProbeResult]) -> str:
    """The report's "Separation Probe" table (Markdown), one row per result, plus its source."""
    lines = ["| " + " | ".join((*TABLE_COLUMNS, "Source", "n pos / neg")) + " |",
             "|" + "|".join("---" for _ in range(len(TABLE_COLUMNS) + 2)) + "|"]
    for r in results:
        cells = ("—" if r.step is None else f"{r.step:,}", "—" if r.epoch is None else f"{r.epoch:.2f}",
                 f"{r.centroid_l2:.3f}", f"{r.norm_gap:.3f}", f"{r.pos_norm:.3f}", f"{r.neg_norm:.3f}",
                 r.source, f"{r.n_pos:,} / {r.n_neg:,}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_probe(results: list[ProbeResult], path: Path) -> None:
    """Centroid L2 and mean norms per result (against step when every result has one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_step = all(r.step is not None for r in results)
    x = [r.step for r in results] if by_step else list(range(len(results)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(x, [r.centroid_l2 for r in results], marker="o")
    left.set_title("centroid L2 (positive vs negative)")
    right.plot(x, [r.pos_norm for r in results], marker="o", label="positive")
    right.plot(x, [r.neg_norm for r in results], marker="s", label="negative")
    right.set_title("mean embedding norm")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
        if by_step:
            ax.set_xlabel("step")
        else:
            ax.set_xticks(x, [Path(r.source).name for r in results], rotation=20, ha="right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
