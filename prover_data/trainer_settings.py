"""The trainers' settings: the ``[train.*]`` tables of a manifest, as frozen dataclasses.

``prover_data.manifest`` reads them from TOML with the same strict rules as every other
table (and re-exports them, so ``from prover_data.manifest import SFTTrainer`` works);
they sit here because they describe training runs, not datasets. The char-GPT's
architecture is defined once, as ``GPTConfig``: ``[train.chargpt]`` extends it with its
training keys, and ``prover_models.chargpt.model`` builds the model from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class SFTTrainer:
    base_model: str = "deepseek-ai/DeepSeek-Prover-V2-7B"
    lora_r: int = 32
    lora_alpha: int = 64
    lora_dropout: float = 0.05
    lora_bias: Literal["none", "all", "lora_only"] = "none"
    target_modules: tuple[str, ...] = (
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    )
    learning_rate: float = 3e-5
    lr_schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = 0
    max_steps: int = 12000
    batch_size: int = 4
    grad_accum: int = 5
    max_seq_len: int = 2048
    eval_every: int = 100
    eval_examples: int = 500
    save_every: int = 1000
    log_every: int = 10
    seed: int = 42
    weight_decay: float = 0.01  # AdamW, on every LoRA weight (BurnQED's value)
    grad_clip: float = 1.0  # max global grad norm (Hugging Face Trainer's default)
    # "auto": bfloat16 on a GPU that has it, float32 otherwise. LoRA weights stay float32.
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    gradient_checkpointing: bool = True  # recompute activations in backward (BurnQED's default)
    keep_checkpoints: int = 3  # newest checkpoint-N dirs kept; 0 keeps all
    # micro-batches (prover_models.batching): length-grouped, padded as drawn, or packed without padding
    batching: Literal["grouped", "random", "packed"] = "grouped"
    group_window: int = 64  # micro-batches per length-sorted window under "grouped"
    max_tokens: int = 4096  # tokens per micro-batch under "packed"; at least max_seq_len
    attn_implementation: str | None = None  # transformers' ("sdpa", "flash_attention_2", ...); None: the model's


@dataclass(frozen=True)
class EBMTrainer:
    # Defaults are BurnQED's (crates/ebm: EnergyHeadConfig, EBMTrainingConfig).
    hidden_dims: tuple[int, ...] = (2048, 1024, 512)
    dropout: float = 0.1
    spectral_norm: bool = False
    init_log_temperature: float = -2.3
    batch_size: int = 256
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    # Linear warmup to learning_rate, then cosine decay to 0. 1000 gives the report's
    # LR column: 3e-5 * (0 + 1) / 1000 = 3.00e-8 at step 0.
    warmup_steps: int = 1000
    steps: int = 20000
    log_every: int = 2000
    eval_every: int = 2000
    seed: int = 42
    max_grad_norm: float = 1.0  # global gradient-norm clip
    depth_loss_weight: float = 0.3  # weight of the remaining-depth regression term; 0 = InfoNCE only
    val_batches: int = 40  # validation set size in batches (a fixed subset of contrastive_val)


@dataclass(frozen=True)
class GPTConfig:
    """The byte-level GPT's shape (``prover_models.chargpt.model`` builds it); the first keys of [train.chargpt]."""

    vocab_size: int = 256
    context_length: int = 512
    d_model: int = 320
    n_layers: int = 8
    n_heads: int = 10
    d_mlp: int = 1280
    dropout: float = 0.1
    activation: Literal["gelu", "silu"] = "gelu"
    positional: Literal["rope", "learned"] = "rope"

    @classmethod
    def from_trainer(cls, trainer: GPTConfig) -> GPTConfig:
        """The model part of a ``CharGPTTrainer``: what a checkpoint's config needs to rebuild it."""
        return cls(**{f.name: getattr(trainer, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class CharGPTTrainer(GPTConfig):
    # The model's keys (GPTConfig), then how to train it.
    peak_lr: float = 3e-4
    final_lr: float = 3e-5
    warmup_steps: int = 1000
    epochs: int = 60
    tokens_per_batch: int = 65536
    micro_batch_size: int = 32
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    patience: int = 5
    keep_best: int = 3
    seed: int = 42
    log_every: int = 50  # optimizer steps between training-loss lines


@dataclass(frozen=True)
class DPOTrainer:
    # LoRA and optimizer keys mean what they mean in [train.sft]; prover_models.dpo says why each default.
    base_model: str = "deepseek-ai/DeepSeek-Prover-V2-7B"
    lora_r: int = 32
    lora_alpha: int = 64
    lora_bias: Literal["none", "all", "lora_only"] = "none"
    target_modules: tuple[str, ...] = SFTTrainer.target_modules
    beta: float = 0.1  # KL strength: how far the policy may move from the reference
    learning_rate: float = 5e-6
    lr_schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = 0
    max_steps: int = 2000
    batch_size: int = 4
    grad_accum: int = 4
    max_seq_len: int = 2048  # prompt + completion tokens; longer pairs are cut at the end
    # micro-batches, through TRL's own settings (prover_models.dpo): length-grouped, as drawn, or padding-free
    batching: Literal["grouped", "random", "packed"] = "grouped"
    eval_every: int = 100
    save_every: int = 500
    log_every: int = 10
    seed: int = 42
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    gradient_checkpointing: bool = True
    keep_checkpoints: int = 3


@dataclass(frozen=True)
class Train:
    sft: SFTTrainer = field(default_factory=SFTTrainer)
    ebm: EBMTrainer = field(default_factory=EBMTrainer)
    chargpt: CharGPTTrainer = field(default_factory=CharGPTTrainer)
    dpo: DPOTrainer = field(default_factory=DPOTrainer)
