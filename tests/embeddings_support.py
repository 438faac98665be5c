"""Builders for the embedding tests: tiny real models, build states tables, manifests.

The models are real Hugging Face models (a Llama like DeepSeek-Prover-V2, a BERT like
MiniLM) with random weights from a fixed seed and a tokenizer trained here on the
test's own texts; nothing is downloaded.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.identity import state_hash
from prover_data.schema import STATES

_GOALS = ["a + b = b + a", "n * 0 = 0", "x ≤ x ^ 2 + 1", "∀ ε > 0, ∃ δ > 0, |f x - f y| < ε", "p ∧ q → q ∧ p",
          "Finset.sum (Finset.range n) id = n * (n - 1) / 2", "Real.sqrt 4 = 2", "¬ (1 : ℤ) = 0"]
_HYPS = ["n : ℕ", "x y : ℝ", "h : 0 < x", "f : ℝ → ℝ", "hf : Continuous f", "p q : Prop", "hp : p", "s : Finset ℕ"]


def lean_states(n: int, seed: int = 0, *, long: bool = False) -> list[str]:
    """``n`` distinct Lean-looking goal states of varied length (Unicode included)."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        hyps = rng.sample(_HYPS, rng.randint(0, 5 if not long else 8))
        goal = rng.choice(_GOALS)
        extra = " ".join(rng.choice(["+ 1", "* k", "- m", "⊔ t"]) for _ in range(rng.randint(0, 30 if long else 6)))
        text = "\n".join(hyps + [f"⊢ {goal} {extra}".strip()]) + f" -- {len(out)}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def tiny_llama(out_dir: Path, texts: list[str], *, hidden: int = 32, layers: int = 2, seed: int = 0,
               zero_output: bool = False) -> Path:
    """A random Llama (the DeepSeek-Prover-V2 architecture) and a BPE tokenizer trained on ``texts``.

    ``zero_output`` zeroes the final norm's weight: the model then really outputs zero
    hidden states, the failure mode of SGLang's zero-embedding bug.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "</s>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    # no pad token: the encoder must fall back to EOS, as BurnQED's does for DeepSeek
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, 1.0)
        if zero_output:
            model.model.norm.weight.zero_()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return Path(out_dir)


def write_states(path: Path, texts: list[str]) -> pa.Table:
    """A build's ``states.parquet`` (``schema.STATES``), sorted by hash as build-manifest writes it."""
    rows = sorted((state_hash(t), t) for t in texts)
    table = pa.table({
        "state_hash": pa.array([h for h, _ in rows], pa.binary(16)),
        "state_pp": pa.array([t for _, t in rows], pa.string()),
        "n_records": pa.array([1] * len(rows), pa.int64()),
        "n_positive": pa.array([int(i % 3 == 0) for i in range(len(rows))], pa.int64()),
        "n_negative": pa.array([int(i % 3 != 0) for i in range(len(rows))], pa.int64()),
    }, schema=STATES)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table


def write_manifest(root: Path, name: str, *, encoder: str, dtype: str = "float32", dim: int | None = None,
                   tag: str | None = None, batch_size: int = 4, max_length: int = 128, prompt: str = "raw") -> Path:
    """A minimal manifest whose data root is ``root`` and whose store is ``root/store``."""
    (root / "traj.parquet").touch()  # the manifest needs an existing trajectory file; embed never reads it
    lines = [f'name = "{name}"', 'data_root = "."', "", "[sources]", 'trajectories = ["traj.parquet"]', "",
             "[embeddings]", 'store = "store"', f'encoder = "{encoder}"', f'dtype = "{dtype}"',
             f"batch_size = {batch_size}", f"max_length = {max_length}", f'prompt = "{prompt}"']
    if dim is not None:
        lines.append(f"dim = {dim}")
    if tag is not None:
        lines.append(f'tag = "{tag}"')
    path = root / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_burnqed_embeddings(path: Path, texts: list[str], vectors) -> Path:
    """A BurnQED ``embeddings.parquet``: state_pp + list<double>."""
    table = pa.table({"state_pp": pa.array(texts, pa.string()),
                      "embedding": pa.array([list(map(float, v)) for v in vectors], pa.list_(pa.float64()))})
    pq.write_table(table, path)
    return path
