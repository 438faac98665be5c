"""How train-dpo batches its pairs: ``[train.dpo] batching`` on TRL's and transformers' own settings.

A DPO micro-batch of B pairs is 2B rows, each pair's chosen then its rejected sequence,
which TRL's ``DataCollatorForPreference`` pads to the longest of them. The padding is
what a run computes for nothing; ``batching`` chooses how much of it there is:

* ``random``: transformers' random sampler, which accelerate seeds from (seed, epoch);
  TRL's default, and what train-dpo did before the key.
* ``grouped`` (the default, as for train-sft): ``train_sampling_strategy =
  "group_by_length"``. transformers' ``LengthGroupedSampler`` cuts the epoch's
  permutation into windows of up to 50 optimizer steps' pairs, sorts each by length (the
  longer of a pair's two sequences, ``pair_dataset``'s ``length`` column) and hands the
  micro-batches out in that order, so a micro-batch holds pairs of nearly one length.
  Its permutation draws from the global torch generator, whose state a resumed run does
  not share with an uninterrupted one; ``EpochSeeded`` gives it a generator seeded from
  (seed, epoch) instead, as accelerate does for the random sampler, so a step's pairs are
  a function of (seed, step) and a resumed run sees the uninterrupted run's batches.
  Under several processes accelerate hands each rank every N-th micro-batch of the
  same order.
* ``packed``: TRL's ``padding_free`` (one flattened row, position ids restarting per
  sequence, as train-sft packs). TRL 1.16's DPOTrainer switches it off for every model
  and pads anyway; ``check_padding_free`` refuses the setting where TRL does so, and
  where TRL keeps it, checks the model's attention as ``batching.check_packing`` does
  for train-sft. TRL has no token budget per padding-free batch, so [train.dpo] has no
  ``max_tokens``.

``TokenCount`` measures what the batching achieved: each training micro-batch, as the
collator built it, adds its real tokens (the attention mask) and its computed tokens
(every position of the padded rows; the reference pass runs on the same rows).
"""

from __future__ import annotations

import dataclasses

import torch
import trl
from transformers.trainer_pt_utils import LengthGroupedSampler

from prover_data.errors import InputError
from prover_models.batching import check_packing

# [train.dpo] batching -> transformers' train_sampling_strategy (TRL's padding_free is set for "packed")
SAMPLING = {"grouped": "group_by_length", "random": "random", "packed": "random"}


class TokenCount:
    """Real and computed tokens of the chosen and rejected rows the training steps ran on, all processes'.

    Each process counts its own micro-batches; ``settle``, a collective that every process
    calls at the same point (a train log line, a checkpoint, the end), sums them into
    ``total`` (the whole run, a resumed run's earlier part included) and ``window`` (the
    steps since the last train log line).
    """

    def __init__(self, saved: dict | None = None):
        self.total = list((saved or {}).get("total", (0, 0)))
        self.window = list((saved or {}).get("window", (0, 0)))
        self._local = [0, 0]

    def add(self, inputs: dict) -> None:
        ids, mask = inputs["input_ids"], inputs.get("attention_mask")
        self._local[0] += int(mask.sum()) if mask is not None else ids.numel()  # padding-free rows: all real
        self._local[1] += ids.numel()

    def settle(self, accelerator) -> None:
        local = torch.tensor(self._local, dtype=torch.int64, device=accelerator.device)
        summed = accelerator.reduce(local, reduction="sum").tolist()
        self._local = [0, 0]
        for counts in (self.total, self.window):
            counts[0] += summed[0]
            counts[1] += summed[1]

    def take_window(self) -> float | None:
        """The token efficiency of the steps since the last call."""
        real, computed = self.window
        self.window = [0, 0]
        return real / computed if computed else None

    def state(self) -> dict:
        return {"total": list(self.total), "window": list(self.window)}


class EpochSeeded(LengthGroupedSampler):
    """transformers' length grouping, its shuffle drawn from (seed, epoch) instead of the global generator."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:  # the Trainer calls it before each epoch's pass
        self.epoch = epoch

    def __iter__(self):
        self.generator.manual_seed(self.seed + self.epoch)
        return super().__iter__()


def check_padding_free(trainer, pairs: list[list[int]], file: str) -> None:
    """Refuse ``batching = "packed"`` where TRL pads anyway, or where the model would let rows attend across.

    TRL's DPOTrainer takes ``padding_free`` from its config and may switch it off (1.16
    does, for every model: the feature awaits a rewrite); it then pads every batch, and
    "packed" would silently be "random". Where TRL keeps it, its collator flattens a
    batch into one row with restarting position ids, which is train-sft's packing:
    ``batching.check_packing`` decides whether the model's attention keeps them apart.
    """
    if not trainer.padding_free:
        raise InputError.one(file, f'batching = "packed" needs TRL\'s padding-free batches, and the installed TRL '
                                   f"{trl.__version__} DPOTrainer switches them off (it pads every batch anyway). "
                                   'Set batching = "grouped"', key="train.dpo.batching")
    try:
        check_packing(trainer.model, pairs, str(trainer.args.device), file=file)
    except InputError as e:
        raise InputError([dataclasses.replace(p, key="train.dpo.batching") for p in e.problems]) from None
