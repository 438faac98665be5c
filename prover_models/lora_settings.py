"""What ``[train.sft]`` and ``[train.dpo]`` share: the checks of their LoRA and optimizer
settings, and the base model they load, found on this machine or nowhere.

Both trainers put a LoRA adapter on a Hugging Face causal LM and step AdamW; a rule about
those keys means the same in either table, so it is stated here once and each trainer
adds only its own keys.
"""

from __future__ import annotations

from pathlib import Path

from prover_data.errors import InputError, Problem

Rule = tuple[str, bool, str]  # (key, holds, what was expected)


def lora_rules(cfg) -> list[Rule]:
    """The rules every LoRA trainer's settings must satisfy."""
    return [
        ("lora_r", cfg.lora_r >= 1, "at least 1"),
        ("lora_alpha", cfg.lora_alpha > 0, "a positive number"),
        ("target_modules", len(cfg.target_modules) > 0, "at least one module name"),
        ("learning_rate", cfg.learning_rate > 0, "a positive number"),
        ("warmup_steps", cfg.warmup_steps >= 0, "a non-negative count"),
        ("max_steps", cfg.max_steps >= 1, "at least 1"),
        ("batch_size", cfg.batch_size >= 1, "at least 1"),
        ("grad_accum", cfg.grad_accum >= 1, "at least 1"),
        ("max_seq_len", cfg.max_seq_len >= 2, "at least 2"),
        ("eval_every", cfg.eval_every >= 1, "at least 1"),
        ("save_every", cfg.save_every >= 1, "at least 1"),
        ("log_every", cfg.log_every >= 1, "at least 1"),
        ("weight_decay", cfg.weight_decay >= 0, "a non-negative number"),
        ("grad_clip", cfg.grad_clip > 0, "a positive number"),
        ("keep_checkpoints", cfg.keep_checkpoints >= 0, "a non-negative count (0 keeps all)"),
    ]


def check_rules(cfg, rules: list[Rule], section: str, file: str) -> None:
    """Raise one ``InputError`` naming ``train.SECTION.KEY`` for every rule that fails."""
    problems = [Problem(file, f"expected {want}, got {getattr(cfg, key)!r}", key=f"train.{section}.{key}")
                for key, ok, want in rules if not ok]
    if problems:
        raise InputError(problems)


def resolve_model(name: str, file: str, section: str) -> Path:
    """A local model directory: ``name`` itself, or its snapshot in the local HF cache.

    Training never downloads: a 7B model is fetched once, deliberately, not as a side
    effect of a training command on a cluster node.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError.one(str(path), "not a Hugging Face model directory (no config.json)")
        return path.resolve()
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached, or not a valid repo id: both mean "not here"
        raise InputError.one(
            file,
            f"base model {name!r} is not a local directory and not in the local Hugging Face "
            "cache; nothing is downloaded during training. Fetch it once where there is "
            f"network (`huggingface-cli download {name}`), or point at a local copy with "
            f"--model /path/to/model or [train.{section}] base_model = \"/path/to/model\"",
            key=f"train.{section}.base_model",
        ) from None
