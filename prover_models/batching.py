"""Which training pairs each SFT optimizer step computes on: a pure function of (seed, step).

Padding is where an SFT run's GPU hours go. BurnQED's pairs run p25 103, p50 156, p99
793 tokens (mean 202, std 210): a micro-batch of 4 pairs drawn at random is padded to
its longest, and only about half of the tokens it computes are real. Three ways to cut
a step into micro-batches (``[train.sft] batching``):

* ``random``: positions ``[s * P, (s + 1) * P)`` of the stream "epoch 0's seeded
  permutation, then epoch 1's, ..." (``P = batch_size x grad_accum``), in
  micro-batches of ``batch_size``: every pair padded to its micro-batch's longest.
* ``grouped``: each epoch's permutation is cut into windows of ``group_window``
  micro-batches; a window is sorted by token length, cut into micro-batches of
  ``batch_size`` and their order shuffled with (seed, epoch, window). Neighbours in a
  micro-batch have nearly the same length, and a step still mixes short and long
  micro-batches from across its window (Hugging Face's ``group_by_length`` does the
  same with windows of 50 batches).
* ``packed``: the epoch's permutation filled, in order, into micro-batches of at most
  ``max_tokens`` tokens, each one padding-free row (``data.pack_sft_batch``).

Under ``grouped`` and ``packed`` the epochs' micro-batches form one stream and step
``s`` takes micro-batches ``[s * grad_accum, (s + 1) * grad_accum)`` of it; a step may
straddle two epochs, and every pair appears exactly once per epoch. Nothing here keeps
state between steps: a resumed run, or rank 3 of 8, asks for step ``s`` directly and
gets the same micro-batches an uninterrupted single process would.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache

import numpy as np
import torch

from prover_data.errors import InputError
from prover_models.data import batch_indices, epoch_order, pack_sft_batch


class StepPlan:
    """The micro-batches of every optimizer step, from the pairs' token lengths and the settings."""

    def __init__(self, lengths: np.ndarray, *, batching: str, batch_size: int, grad_accum: int, seed: int,
                 group_window: int = 64, max_tokens: int = 4096):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.n = len(self.lengths)
        self.batching, self.batch_size, self.grad_accum, self.seed = batching, batch_size, grad_accum, seed
        self.group_window, self.max_tokens = group_window, max_tokens
        self._counts: list[int] = []  # micro-batches in epochs 0, 1, ... (grouped, packed)
        self.epoch_micro_batches = lru_cache(maxsize=3)(self._epoch_micro_batches)

    # ------------------------------------------------------------------ steps

    def step(self, step: int) -> list[np.ndarray]:
        """Row indices of step ``step``'s micro-batches (0-based), all ranks' together."""
        if self.batching == "random":
            rows = batch_indices(self.n, self.batch_size * self.grad_accum, self.seed, step)
            return [rows[i:i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        out, position = [], step * self.grad_accum
        epoch, offset = self._locate(position)
        while len(out) < self.grad_accum:
            plan = self.epoch_micro_batches(epoch)
            out += plan[offset:offset + self.grad_accum - len(out)]
            epoch, offset = epoch + 1, 0
        return out

    def epoch_at(self, step: int) -> float:
        """Passes over the training pairs after ``step`` optimizer steps."""
        if self.batching == "random":
            return step * self.batch_size * self.grad_accum / self.n
        epoch, offset = self._locate(step * self.grad_accum)
        return epoch + offset / self._count(epoch)

    def tokens(self, start: int, stop: int) -> tuple[int, int, int]:
        """``(real, computed, pairs)`` of steps ``start`` .. ``stop - 1``: the pairs' tokens, the
        tokens the forward passes run on (padding included), and the pairs."""
        real = computed = pairs = 0
        for step in range(start, stop):
            for rows in self.step(step):
                lengths = self.lengths[rows]
                real += int(lengths.sum())
                computed += int(lengths.sum()) if self.batching == "packed" else int(lengths.max()) * len(rows)
                pairs += len(rows)
        return real, computed, pairs

    # ------------------------------------------------------------------ epochs

    def _epoch_micro_batches(self, epoch: int) -> list[np.ndarray]:
        order = epoch_order(self.n, self.seed, epoch)
        if self.batching == "packed":
            return _fill(order, self.lengths, self.max_tokens)
        window = self.group_window * self.batch_size
        out = []
        for w, start in enumerate(range(0, self.n, window)):
            chunk = order[start:start + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            pieces = [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
            shuffle = np.random.default_rng([self.seed, epoch, w]).permutation(len(pieces))
            out += [pieces[i] for i in shuffle]
        return out

    def _count(self, epoch: int) -> int:
        while len(self._counts) <= epoch:
            self._counts.append(len(self.epoch_micro_batches(len(self._counts))))
        return self._counts[epoch]

    def _locate(self, position: int) -> tuple[int, int]:
        """(epoch, micro-batch within it) of micro-batch ``position`` of the stream."""
        epoch = 0
        while position >= self._count(epoch):
            position -= self._count(epoch)
            epoch += 1
        return epoch, position


def _fill(order: np.ndarray, lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    """``order`` cut, in order, into runs of at most ``budget`` tokens (a pair never split)."""
    bounds, used = [0], 0
    for i, length in enumerate(lengths[order].tolist()):
        if used + length > budget and used:
            bounds.append(i)
            used = 0
        used += length
    bounds.append(len(order))
    return [order[a:b] for a, b in zip(bounds, bounds[1:])]


def rank_share(micro_batches: list, rank: int, world_size: int) -> list:
    """The micro-batches of a step that rank ``rank`` computes: every ``world_size``-th from ``rank``."""
    return micro_batches[rank::world_size]


# How far a packed pair's logits may stray from the same pair run alone: kernel and
# reduction-order noise, far below what attending to a neighbour changes.
PACKING_TOLERANCE = {torch.float32: 1e-3, torch.bfloat16: 5e-2, torch.float16: 2e-2}


@torch.no_grad()
def check_packing(model, pairs: list[list[int]], device: str, autocast=nullcontext(),
                  file: str = "[train.sft]") -> None:
    """Refuse ``batching = "packed"`` where the model would let packed pairs attend to each other.

    Two checks. The installed transformers must know how to mask the model's attention
    implementation by position ids (``masking_utils.ALL_MASK_ATTENTION_FUNCTIONS``: in
    transformers 5 sdpa, eager and flex_attention build a block-diagonal causal mask,
    and the flash_attention kernels read the restarts as varlen boundaries); a custom
    or kernel-hub implementation that is not registered there gets no mask at all. And
    a probe: the second of two packed token runs (the first ``pairs``, 16 tokens each)
    must give the logits it gives alone, which also catches a model whose own code
    ignores position ids.
    """
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    attention = getattr(model.config, "_attn_implementation", None)
    known = list(ALL_MASK_ATTENTION_FUNCTIONS.keys())
    if attention not in known:
        raise InputError.one(file, f'batching = "packed" needs an attention implementation that keeps packed pairs '
                                   f"apart; this model uses {attention!r}, which the installed transformers cannot "
                                   f"mask by position ids (it can: {', '.join(known)}). Set batching = \"grouped\", "
                                   'or attn_implementation = "sdpa"', key="train.sft.batching")
    first, second = (ids[:16] for ids in (pairs * 2)[:2])
    packed = pack_sft_batch([{"input_ids": first, "labels": first}, {"input_ids": second, "labels": second}])
    was_training = model.training
    model.eval()
    with autocast:
        together = model(input_ids=packed["input_ids"].to(device), position_ids=packed["position_ids"].to(device),
                         use_cache=False).logits[0, len(first):].float()
        alone = model(input_ids=torch.tensor([second], device=device), use_cache=False).logits[0].float()
    model.train(was_training)
    drift = float((together - alone).abs().max() / alone.abs().max().clamp(min=1e-6))
    if drift > PACKING_TOLERANCE.get(next(model.parameters()).dtype, 5e-2):
        raise InputError.one(file, f'batching = "packed": under attention {attention!r} a packed pair\'s logits change '
                                   f"with its neighbour (relative change {drift:.2g}); this model does not keep "
                                   'packed pairs apart. Set batching = "grouped"', key="train.sft.batching")
