"""The encoder: a Hugging Face model's mean-pooled last hidden state, as BurnQED computes it.

What is encoded, exactly (BurnQED ``python/encode_embeddings.py`` and
``encode_server.py``, ``encode_batch``):

1. The state is put in the manifest's prompt format (``embeddings.prompt``): ``raw``
   is the state text itself; ``deepseek_prover_v2`` is BurnQED's DeepSeek-Prover-V2
   template (``fingerprint.PROMPTS``), byte for byte.
2. The tokenizer is called on the batch with ``padding=True, truncation=True,
   max_length=embeddings.max_length`` and its default special tokens (a missing pad
   token becomes the EOS token, as in BurnQED).
3. The *base* model (``AutoModel``: for a causal LM checkpoint, the transformer
   without its LM head, i.e. BurnQED's ``model.model``) runs in the requested dtype.
4. The last hidden state is mean-pooled over the attention mask: the sum of the
   hidden states of real tokens, in float32, divided by their count (at least 1).
   No normalization. This float32 vector is cast to the store's dtype.

Padding is on the right, whatever the tokenizer's default: with causal attention a
real token never attends to padding, and positions start at 0 for every row, so a
state's vector does not depend on which other states share its batch (up to kernel
rounding). Batches are formed from states sorted by prompt length, longest first,
so padding is small and an out-of-memory batch shows up in the first minute.

On CPU, torch runs float16 and bfloat16 models natively (torch >= 2.1 has CPU
kernels for the ops these models use); the computation really happens in the
requested dtype there too, only slower than float32. A CUDA out-of-memory error on a
batch is retried as two half batches, down to single states. ``embed`` streams its
batches through ``encode_batches``, which keeps a GPU busy while the CPU tokenizes and
stores; ``benchmarks/encode.py`` times it against a bare transformers loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from prover_data.embeddings.fingerprint import EncoderSpec, format_prompt
from prover_data.errors import InputError


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError.one("--device", f"'{device}' requested but torch sees no CUDA device")
    return device


class HFEncoder:
    """A loaded model + tokenizer that turns state strings into float32 pooled vectors."""

    def __init__(self, folder: str | Path, spec: EncoderSpec, dtype: str, *, device: str = "auto"):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.spec, self.dtype = spec, dtype
        self.device = resolve_device(device)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        tokenizer.padding_side = "right"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # a causal LM's unused lm_head is expected, not news
        try:
            model = AutoModel.from_pretrained(str(folder), dtype=getattr(torch, dtype))
        finally:
            hf_logging.set_verbosity(verbosity)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.dim = int(model.config.hidden_size)
        self._inputs = set(inspect.signature(self.model.forward).parameters)

    def encode(self, states: list[str]) -> np.ndarray:
        """float32 [len(states), dim] mean-pooled vectors (see the module docstring)."""
        return self._collect(self._launch_or_split(states, self._tokenize(states)))

    def encode_batches(self, batches: Iterable[list[str]]) -> Iterator[np.ndarray]:
        """``encode`` of each batch, in order, keeping the device busy between batches.

        A GPU runs a batch while this process waits for its vectors; done one batch at
        a time, the GPU would then sit idle while the next batch is tokenized and the
        caller stores the vectors. So the next batch is tokenized before the current
        one's vectors are collected, and launched before they are handed over: the CPU
        work of one batch overlaps the device's work on the next. The batches and their
        arithmetic are those of ``encode``, so the vectors are byte-identical; on a CPU
        the steps simply run one after the other.
        """
        pending = None  # the launched batch: its pooled tensor (or, after a split, its vectors)
        for states in batches:
            tokens = self._tokenize(states)
            done = self._collect(pending) if pending is not None else None
            pending = self._launch_or_split(states, tokens)
            if done is not None:
                yield done
        if pending is not None:
            yield self._collect(pending)

    def _launch_or_split(self, states: list[str], tokens):
        """The batch launched; after a CUDA out-of-memory error, its vectors from two half batches."""
        import torch

        try:
            return self._launch(tokens)
        except torch.cuda.OutOfMemoryError:  # raised at allocation, before the batch runs
            if len(states) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(states) // 2
            return np.concatenate([self.encode(states[:half]), self.encode(states[half:])])

    def _tokenize(self, states: list[str]):
        prompts = [format_prompt(s, self.spec.prompt) for s in states]
        return self.tokenizer(prompts, return_tensors="pt", padding=True, truncation=True,
                              max_length=self.spec.max_length)

    def _launch(self, tokens):
        """The batch's pooled float32 vectors on the device; on a GPU they may still be computing."""
        import torch

        with torch.inference_mode():
            inputs = {k: v.to(self.device) for k, v in tokens.items() if k in self._inputs}
            hidden = self.model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            return pooled.float()

    @staticmethod
    def _collect(pooled) -> np.ndarray:
        """Vectors on the host: waits for the device to finish the batch."""
        return pooled if isinstance(pooled, np.ndarray) else pooled.cpu().numpy()


def batch_order(states: list[str], keys: np.ndarray, prompt: str) -> np.ndarray:
    """Encoding order: longest prompt first, ties by state hash (deterministic)."""
    from prover_data.embeddings.store.keys import halves

    lengths = np.fromiter((len(format_prompt(s, prompt)) for s in states), np.int64, len(states))
    hi, lo = halves(keys)
    return np.lexsort((lo, hi, -lengths))
