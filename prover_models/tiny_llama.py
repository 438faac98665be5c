"""A tiny Llama-architecture causal LM and byte-level BPE tokenizer, built locally.

For smoke runs and tests of the SFT trainer where a 7B model is neither available nor
wanted: same architecture family as DeepSeek-Prover-V2-7B (``LlamaForCausalLM``, with
the q/k/v/o/gate/up/down projections LoRA targets), a few thousand parameters, a
tokenizer trained on the texts you give it. Nothing is downloaded.

    python -m prover_models.tiny_llama /tmp/tiny-llama build/demo/sft_train.parquet
    prover-data train-sft demo --model /tmp/tiny-llama --max-steps 40
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable


def build_tiny_llama(out_dir: str | Path, texts: Iterable[str], *, vocab_size: int = 512, hidden_size: int = 64,
                     layers: int = 2, heads: int = 4, lm_head_std: float = 0.3, seed: int = 0) -> Path:
    """Train a byte-level BPE on ``texts``, make a random Llama of that vocabulary; save both.

    ``lm_head_std``: the output layer is drawn wider than the usual 0.02. LoRA leaves
    the final norm and ``lm_head`` frozen, and after the norm the hidden state has unit
    RMS, so with 0.02 every logit stays within about +-1 and no adapter can make the
    model confident: the loss would plateau near uniform whatever the data.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<s>", "</s>", "<pad>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>")

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads // 2,
        max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    torch.nn.init.normal_(model.lm_head.weight, std=lm_head_std)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _main(out_dir: str, pairs_parquet: str) -> None:
    import pyarrow.parquet as pq
    from transformers.utils import logging as hf_logging

    from prover_models.data import format_prompt

    hf_logging.disable_progress_bar()

    table = pq.read_table(pairs_parquet, columns=["state_pp", "tactic"])
    states, tactics = table.column("state_pp").to_pylist(), table.column("tactic").to_pylist()
    texts = [format_prompt(s) + t for s, t in zip(states, tactics)]
    print(build_tiny_llama(out_dir, texts))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m prover_models.tiny_llama OUT_DIR PAIRS.parquet")
    _main(*sys.argv[1:])
