"""Preference pairs (``schema.PREFERENCES``): their text form, their tokens, and the checked file.

A pair teaches the policy which of two tactics to prefer at one state, so its text must
be exactly the text ``train-sft`` trains the same policy on: the prompt of the state,
then the tactic, with nothing between or after. ``prompt_completion`` is that
definition; the build's ``prompt`` / ``chosen`` / ``rejected`` columns are its values,
and ``tokenize`` turns them into the tokens ``data.encode_pair`` gives the same pair.

TRL's ``DPOTrainer`` would tokenize the text itself, differently: it appends EOS to each
completion (train-sft's targets have none: the search stops at a blank line or a code
fence) and tokenizes prompt and completion as one string, so BPE may merge across the
boundary and move it. ``train-dpo`` hands TRL these tokens instead.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from prover_data.prompts import format_prompt
from prover_data.schema import PREFERENCES
from prover_models.data import _read_checked


def prompt_completion(state: str, tactic: str) -> tuple[str, str]:
    """``(prompt, completion)`` of one (state, tactic) pair, as train-sft feeds it.

    Both are stripped as the SFT pairs are (``sql/10_sft_candidates.sql``'s ``py_strip``
    is Python's ``str.strip``); the completion is the bare tactic, no EOS.
    """
    return format_prompt(state.strip()), tactic.strip()


def tokenize(tokenizer, prompt: str, completion: str) -> tuple[list[int], list[int]]:
    """Prompt and completion token ids, tokenized apart as ``data.encode_pair`` does.

    The prompt starts with BOS when the tokenizer has one; nothing follows the completion.
    """
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return (bos + tokenizer(prompt, add_special_tokens=False)["input_ids"],
            tokenizer(completion, add_special_tokens=False)["input_ids"])


def read_pairs(path: str | Path) -> pa.Table:
    """``preferences_train/val.parquet``, checked against ``schema.PREFERENCES``, in content order.

    Sorted by (state_hash, chosen, rejected, theorem_name, source), so a run's batches
    depend on what the file holds, not on the order it was written in.
    """
    table = _read_checked(path, PREFERENCES, "prover-data build-manifest NAME")
    return table.sort_by([("state_hash", "ascending"), ("chosen", "ascending"), ("rejected", "ascending"),
                          ("theorem_name", "ascending"), ("source", "ascending")])
