"""A small GPT over UTF-8 bytes, for proof certificates.

One file, one class per concept: rotary positions, causal self-attention, the MLP, a
transformer block, and the model. At the plan's configuration (d_model 320, 8 layers,
10 heads of 32, d_mlp 1280, vocabulary 256) it has 9,917,760 parameters:

    token embedding            256 x 320                      81,920  (shared with the output head)
    per layer: q, k, v, out    4 x 320 x 320                 409,600
               MLP             2 x 320 x 1280                819,200
               2 RMSNorms      2 x 320                           640
    8 layers                                               9,835,520
    final RMSNorm                                                320

Choices, from the plan: RMSNorm before each sub-layer (pre-norm) and at the end; GELU
(or SiLU) in the MLP; input and output embeddings tied; rotary position embeddings
(or learned ones); dropout on attention weights, sub-layer outputs and embeddings. No
biases: with normalization everywhere they add parameters and nothing measurable.

Attention is ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels on
GPU and CPU). Generation keeps a key/value cache, so each new byte costs one position
instead of the whole context; it stops at ``context_length`` bytes in all, the longest
text the model was trained on.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from prover_data.trainer_settings import GPTConfig  # the shape, defined once with [train.chargpt]

IGNORE_INDEX = -100


class Rotary(nn.Module):
    """Rotary position embedding: rotates pairs of query/key channels by position."""

    def __init__(self, head_dim: int, context_length: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(context_length, dtype=torch.float32), inv_freq)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        # x: (B, heads, T, head_dim); channels (2i, 2i+1) form the i-th rotated pair
        T = x.size(2)
        cos, sin = self.cos[start:start + T].to(x.dtype), self.sin[start:start + T].to(x.dtype)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.out = nn.Linear(config.d_model, config.d_model, bias=False)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, rotary: Rotary | None, past=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))
        start = 0 if past is None else past[0].size(2)
        if rotary is not None:
            q, k = rotary(q, start), rotary(k, start)
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        # Without a cache the block is causal; with one, the new position sees every cached key.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.out(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.up = nn.Linear(config.d_model, config.d_mlp, bias=False)
        self.act = nn.GELU() if config.activation == "gelu" else nn.SiLU()
        self.down = nn.Linear(config.d_mlp, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.down(self.act(self.up(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1 = nn.RMSNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.norm2 = nn.RMSNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x, rotary, past=None):
        a, present = self.attn(self.norm1(x), rotary, past)
        x = x + a
        x = x + self.mlp(self.norm2(x))
        return x, present


class CharGPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not divisible by n_heads {config.n_heads}")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.position = (nn.Embedding(config.context_length, config.d_model)
                         if config.positional == "learned" else None)
        self.rotary = (Rotary(config.d_model // config.n_heads, config.context_length)
                       if config.positional == "rope" else None)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.RMSNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied input/output embeddings

        # GPT-2 initialization: N(0, 0.02), residual projections scaled by depth so the
        # residual stream's variance does not grow with the number of layers.
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith(("attn.out.weight", "mlp.down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """Trainable parameters, the tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())

    def _trunk(self, idx, past=None):
        start = 0 if past is None else past[0][0].size(2)
        x = self.embed(idx)
        if self.position is not None:
            x = x + self.position(torch.arange(start, start + idx.size(1), device=idx.device))
        x = self.drop(x)
        presents = []
        for i, block in enumerate(self.blocks):
            x, present = block(x, self.rotary, None if past is None else past[i])
            presents.append(present)
        return self.norm(x), presents

    def forward(self, idx, targets=None, *, label_smoothing: float = 0.0, reduction: str = "mean"):
        """Logits (B, T, vocab) and, with ``targets``, the cross-entropy over non-ignored targets."""
        if idx.size(1) > self.config.context_length:
            raise ValueError(f"sequence of {idx.size(1)} bytes is longer than the context ({self.config.context_length})")
        h, _ = self._trunk(idx)
        logits = self.head(h)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing, reduction=reduction)
        return logits, loss

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay the matrices of linear layers only.

        Norm gains and embeddings (the tied embedding is also the output head) are not
        decayed: shrinking a gain or a byte's embedding toward zero is not a simpler
        model, only a differently scaled one.
        """
        embeddings = {id(self.embed.weight)} | ({id(self.position.weight)} if self.position is not None else set())
        decay, no_decay = [], []
        for p in self.parameters():
            (decay if p.dim() >= 2 and id(p) not in embeddings else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, *, temperature: float = 0.8, top_p: float = 0.9,
                 stop: bytes | None = None, generator: torch.Generator | None = None):
        """Continue ``idx`` (B, T) by up to ``max_new_tokens`` bytes, nucleus sampling.

        Stops early once every row ends with ``stop``; rows that stopped keep their
        length's worth of bytes and are padded with further samples the caller trims.
        Never runs past ``context_length`` bytes in all.
        """
        max_new_tokens = min(max_new_tokens, self.config.context_length - idx.size(1))
        stop_ids = torch.tensor(list(stop), device=idx.device) if stop else None
        done = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
        past, step_input = None, idx
        for _ in range(max_new_tokens):
            h, past = self._trunk(step_input, past)
            logits = self.head(h[:, -1, :]).float()
            next_id = sample_next(logits, temperature, top_p, generator)
            idx = torch.cat((idx, next_id), dim=1)
            step_input = next_id
            if stop_ids is not None and idx.size(1) >= len(stop_ids):
                done |= (idx[:, -len(stop_ids):] == stop_ids).all(dim=1)
                if bool(done.all()):
                    break
        return idx


def sample_next(logits, temperature: float, top_p: float, generator=None):
    """One token id per row from ``logits`` (B, vocab): temperature, then nucleus (top-p).

    Temperature 0 takes the most likely byte. Top-p keeps the smallest set of most
    likely bytes whose probability reaches ``top_p`` (always at least one).
    """
    if temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    probs = F.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the more likely bytes
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator)
