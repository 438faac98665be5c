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
batch is retried as two half batches, down to single states.
"""

from __future__ import annotations

import inspect
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
        import torch

        try:
            return self._forward(states)
        except torch.cuda.OutOfMemoryError:
            if len(states) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(states) // 2
            return np.concatenate([self.encode(states[:half]), self.encode(states[half:])])

    def _forward(self, states: list[str]) -> np.ndarray:
        import torch

        prompts = [format_prompt(s, self.spec.prompt) for s in states]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, truncation=True,
                               max_length=self.spec.max_length)
        inputs = {k: v.to(self.device) for k, v in batch.items() if k in self._inputs}
        with torch.no_grad():
            hidden = self.model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return pooled.float().cpu().numpy()


def batch_order(states: list[str], keys: np.ndarray, prompt: str) -> np.ndarray:
    """Encoding order: longest prompt first, ties by state hash (deterministic)."""
    from prover_data.embeddings.keys import halves

    lengths = np.fromiter((len(format_prompt(s, prompt)) for s in states), np.int64, len(states))
    hi, lo = halves(keys)
    return np.lexsort((lo, hi, -lengths))
