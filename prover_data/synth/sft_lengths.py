"""SFT pairs whose token lengths follow BurnQED's: for measuring what batching computes.

BurnQED measured its SFT set with the DeepSeek-Prover tokenizer (``docs/deepseek_sft.md``,
"Token Geometry"): prompt + tactic run p25 103, p50 156, p75 246, p90 384, p95 506, p99
793 tokens, mean 202, std 210, and 0.41% are longer than 1,024. ``sample_lengths``
draws from that distribution (log-linear between the quantiles; the two ends, 30 and
4,096 tokens, are chosen to give its mean and spread). ``write_sft_pairs`` writes
``sft_train.parquet`` / ``sft_val.parquet`` (``schema.SFT_PAIRS``) whose states are made
of a small vocabulary of Lean-like words, one word about one token once a tokenizer
has been trained on them (``prover_models.tiny_llama``), so the pairs' token lengths
follow the sampled ones. Padding depends only on the lengths; what the states say does
not matter here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.atomic import atomic_file
from prover_data.identity import state_hash
from prover_data.schema import SFT_PAIRS
from prover_data.synth.profiles import PARQUET_OPTIONS

# (cumulative share, tokens): BurnQED's quantiles, and the ends that give mean ~202, std ~205.
BURNQED_TOKEN_QUANTILES = ((0.0, 30), (0.25, 103), (0.5, 156), (0.75, 246), (0.9, 384), (0.95, 506),
                           (0.99, 793), (0.9959, 1024), (1.0, 4096))
PROMPT_TOKENS = 16  # the prompt template's tokens once a tokenizer has learned it, with BOS
# Each word is one GPT-2-style pre-token (letters only, digits only, or symbols only), so
# a byte-level BPE trained on these texts learns every word as one token.
WORDS = (["x", "y", "z", "n", "m", "k", "a", "b", "c", "p", "q", "f", "g", "ha", "hb", "hc", "hn", "hm", "hx",
          "hy", "hp", "abs", "gcd", "sum", "succ", "card", "Nat", "Real", "Int", "Finset", "range", "sqrt"] +
         ["ℕ", "ℝ", "ℤ", "+", "-", "*", "/", "=", "≤", "<", "≠", "∣", "^", "(", ")", ":", "∀", "∃", ",", "↑"] +
         [str(i) for i in range(10)])
TACTICS = ["simp", "ring", "omega", "linarith", "norm_num", "positivity", "exact h0", "nlinarith [sq_nonneg x0]",
           "rw [Nat.succ_eq_add_one] at h1", "field_simp"]


def sample_lengths(n: int, seed: int = 0) -> np.ndarray:
    """``n`` token lengths drawn from BurnQED's distribution (inverse CDF, log-linear between quantiles)."""
    share, tokens = zip(*BURNQED_TOKEN_QUANTILES)
    u = np.random.default_rng([seed, 26]).random(n)
    return np.rint(np.exp(np.interp(u, share, np.log(tokens)))).astype(np.int64)


def _pair(length: int, rng: np.random.Generator) -> tuple[str, str]:
    """A state and tactic of about ``length`` tokens: hypotheses of words, then a goal line."""
    tactic = TACTICS[int(rng.integers(len(TACTICS)))]
    # a tactic word is about two tokens; every line of 12 words adds a newline token
    words = max(2, round((length - PROMPT_TOKENS - 2 * len(tactic.split())) * 12 / 13))
    picks = rng.choice(len(WORDS), size=words)
    lines, line = [], []
    for k, w in enumerate(picks):
        line.append(WORDS[w])
        if len(line) == 12 or k == words - 1:
            lines.append(" ".join(line))
            line = []
    lines[-1] = "⊢ " + lines[-1]
    return "\n".join(lines), tactic


def pairs_table(n: int, seed: int, split: str) -> pa.Table:
    """``n`` SFT pairs of BurnQED's token lengths, two pairs per theorem."""
    rng = np.random.default_rng([seed, 27, len(split)])
    rows = []
    for i, length in enumerate(sample_lengths(n, seed + (split == "val")).tolist()):
        state, tactic = _pair(length, rng)
        rows.append({"theorem_name": f"lengths_{split}_{i // 2}", "source": "base" if i % 4 == 0 else "iter_0",
                     "state_pp": state, "tactic": tactic, "state_hash": state_hash(state), "depth": i % 5})
    return pa.Table.from_pylist(rows, schema=SFT_PAIRS)


def write_sft_pairs(out: str | Path, n_train: int, seed: int = 0) -> dict[str, int]:
    """Write OUT/sft_train.parquet (``n_train`` pairs) and OUT/sft_val.parquet (a tenth as many)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"sft_train": n_train, "sft_val": max(1, n_train // 10)}
    for name, n in counts.items():
        with atomic_file(out / f"{name}.parquet") as f:
            pq.write_table(pairs_table(n, seed, name.removeprefix("sft_")), f, **PARQUET_OPTIONS)
    return counts
