"""Trainer commands: each reads a manifest's ``[train.*]`` section and a build's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from prover_data.cli.options import build_dir_option, data_root_option, missing_option
from prover_data.console import info, print_json, progress
from prover_data.errors import InputError

# Every trainer's records go through prover_models.run_log; this says where else they go.
report_to_option = click.option(
    "--report-to", "report_to", type=click.Choice(["none", "tensorboard"]), default="none", show_default=True,
    help="Also write the run's metrics as TensorBoard event files, to OUT/tensorboard/ "
         "(watch them with: tensorboard --logdir runs/).")


def lora_run_options(section: str):
    """The options train-sft and train-dpo share (``--resume``, ``--model``, ``--device``,
    ``--report-to``, ``--json``), ``--model`` overriding ``[train.SECTION] base_model``."""
    options = [
        click.option("--resume", metavar="PATH|auto", default=None,
                     help="Continue from a checkpoint directory, or 'auto' for the newest in --out."),
        click.option("--model", type=click.Path(path_type=Path), default=None,
                     help=f"Local base model directory, overriding [train.{section}] base_model."),
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
                     help="Where to train.  [default: cuda if available, else cpu]"),
        report_to_option,
        click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON instead of Markdown."),
    ]

    def apply(command):
        for option in reversed(options):  # decorators apply bottom-up: keep --help's order
            command = option(command)
        return command

    return apply


@click.command("train-sft")
@click.argument("name")
@data_root_option
@build_dir_option("build_dir")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory: checkpoints, adapter, log, report.  [default: runs/NAME/sft]")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Override [train.sft] max_steps (the cosine schedule's length too): for smoke runs. "
                   "Warmup then takes at most 10% of them.")
@lora_run_options("sft")
def train_sft(name: str, data_root: Path | None, build_dir: Path, out: Path | None, max_steps: int | None,
              resume: str | None, model: Path | None, device: str | None, report_to: str, as_json: bool) -> None:
    """Fine-tune a LoRA adapter on a build's SFT pairs, as the manifest's [train.sft] says.

    Trains on BUILD_DIR/NAME/sft_train.parquet (base tactic pairs + trajectory train
    pairs) with the DeepSeek-Prover tactic-state prompt and loss on tactic tokens only;
    evaluates on a fixed subset of sft_val.parquet every eval_every steps, and on the whole val
    set and its trajectory pairs at the end. Writes OUT/checkpoint-STEP/ every
    save_every steps, OUT/adapter/ (the final peft adapter + tokenizer), OUT/log.jsonl,
    OUT/summary.json, OUT/report.md (the iteration report's tables) and OUT/loss.png.

    Nothing is downloaded: the base model must be a local directory or already in
    the local Hugging Face cache.

    [train.sft] batching chooses the micro-batches: "grouped" (default; pairs of
    similar length padded together), "random" (padded as drawn) or "packed"
    (padding-free rows of max_tokens). Under torchrun, N processes share each step's
    micro-batches (DistributedDataParallel); only rank 0 writes and prints.

    \b
    Examples:
      prover-data build-manifest iter_4 --data-root replica
      prover-data train-sft iter_4                          # 12,000 steps on a GPU
      torchrun --nproc_per_node 4 -m prover_data train-sft iter_4   # 4 GPUs, same steps
      prover-data train-sft iter_4 --resume auto            # continue the newest checkpoint
      prover-data train-sft iter_4 --report-to tensorboard  # and: tensorboard --logdir runs/
      prover-data train-sft iter_4 --resume runs/iter_4/sft/checkpoint-6000 --out runs/iter_4/sft_b
      prover-data train-sft demo --model /models/DeepSeek-Prover-V2-7B --max-steps 20
      python -m prover_models.tiny_llama /tmp/tiny build/demo/sft_train.parquet
      prover-data train-sft demo --model /tmp/tiny --device cpu --json | jq .final_eval_loss
    """
    import dataclasses

    from prover_data.build.files import Build
    from prover_data.manifest import load_manifest
    from prover_models import sft, sft_report
    from prover_models.devices import pick_device
    from prover_models.distributed import launched_rank

    manifest = load_manifest(name, data_root, check_files=False)
    cfg = manifest.train.sft
    if model is not None:
        cfg = dataclasses.replace(cfg, base_model=str(model))
    if max_steps is not None:
        cfg = dataclasses.replace(cfg, max_steps=max_steps)
    device = pick_device(device)
    build = Build(manifest, build_dir)
    _quiet_transformers()
    with progress(quiet=as_json or launched_rank() != 0) as bar:
        result = sft.train(
            cfg,
            train_path=build.output("sft_train"),
            val_path=build.output("sft_val"),
            out_dir=out or Path("runs") / manifest.name / "sft",
            device=device,
            resume=resume,
            progress=bar,
            say=info,
            config_file=str(manifest.path),
            length_from_cli=max_steps is not None,
            report_to=report_to,
        )
    if not result.primary:
        return
    if as_json:
        print_json(result.summary)
    else:
        click.echo(sft_report.markdown(result.summary))


@click.command("train-dpo")
@click.argument("name")
@data_root_option
@build_dir_option("build_dir")
@click.option("--from", "from_run", type=click.Path(path_type=Path), default=None, metavar="RUN",
              help="Start from a train-sft run's adapter (RUN/adapter); it is also the frozen reference.  "
                   "[default: the base model with a fresh adapter]")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory: checkpoints, adapter, metrics, summary.  [default: runs/NAME/dpo]")
@click.option("--max-steps", "--steps", "max_steps", type=click.IntRange(min=1), default=None,
              help="Override [train.dpo] max_steps (the schedule's length too); warmup then takes at most 10%.")
@lora_run_options("dpo")
def train_dpo(name: str, data_root: Path | None, build_dir: Path, from_run: Path | None, out: Path | None,
              max_steps: int | None, resume: str | None, model: Path | None, device: str | None, report_to: str,
              as_json: bool) -> None:
    """Train a LoRA adapter by DPO on a build's preference pairs, as [train.dpo] says.

    Trains on BUILD_DIR/NAME/preferences_train.parquet with TRL's DPOTrainer, each
    pair tokenized as train-sft tokenizes its pairs. The reference is the frozen
    starting policy: the base model, or with --from the train-sft run's adapter, which
    DPO continues. Evaluates on preferences_val.parquet at step 0 and every eval_every
    steps; prints the table of loss, chosen and rejected rewards, margin, accuracy and
    token efficiency. Writes OUT/checkpoint-STEP/, OUT/adapter/, metrics.jsonl,
    progress.md, summary.json.

    [train.dpo] batching: "grouped" (default; TRL's length grouping), "random" (TRL's
    default sampler) or "packed" (TRL's padding-free mode, which TRL 1.16 does not offer
    for DPO: refused). Under torchrun or accelerate launch, N processes share each step's
    grad_accum micro-batches (DistributedDataParallel); only rank 0 writes and prints.

    \b
    Examples:
      prover-data train-sft iter_4 && prover-data train-dpo iter_4 --from runs/iter_4/sft
      torchrun --nproc_per_node 4 -m prover_data train-dpo iter_4 --from runs/iter_4/sft   # 4 GPUs
      prover-data train-dpo iter_4 --resume auto              # continue the newest checkpoint
      prover-data train-dpo demo --model /tmp/tiny --device cpu --max-steps 20
      prover-data train-dpo demo --model /tmp/tiny --json | jq '.final_eval["rewards/margins"]'
    """
    import dataclasses

    from prover_data.build.files import Build
    from prover_data.manifest import load_manifest
    from prover_models import dpo
    from prover_models.devices import pick_device
    from prover_models.distributed import launched_rank

    manifest = load_manifest(name, data_root, check_files=False)
    cfg = dataclasses.replace(manifest.train.dpo, base_model=str(model or manifest.train.dpo.base_model),
                              max_steps=max_steps or manifest.train.dpo.max_steps)
    device = pick_device(device)
    build = Build(manifest, build_dir)
    _quiet_transformers()
    with progress(quiet=as_json or launched_rank() != 0) as bar:
        result = dpo.train(cfg, train_path=build.output("preferences_train"),
                           val_path=build.output("preferences_val"), out_dir=out or Path("runs") / manifest.name / "dpo",
                           device=device, resume=resume, from_run=from_run, progress=bar, say=info,
                           config_file=str(manifest.path), length_from_cli=max_steps is not None,
                           report_to=report_to)
    if not result.primary:
        return
    if as_json:
        print_json(result.summary)
    else:
        click.echo(dpo.markdown(result.summary))


def _quiet_transformers() -> None:
    """Keep transformers' own loading bars and notices off a command's output."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


@click.command("train-chargpt")
@click.argument("name")
@data_root_option
@click.option("--certificates", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Certificate corpus, as export-certificates writes it.  [default: build/NAME-certificates]")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory: checkpoints, config.json, metrics.jsonl, curve.png.  [default: runs/NAME/chargpt]")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Override [train.chargpt] epochs (the schedule spans them); warmup then takes at most 10% "
                   "of the run.")
@click.option("--max-steps", type=click.IntRange(min=0), default=None,
              help="Stop after this many optimizer steps in all, leaving a resumable last.pt (the schedule, "
                   "warmup included, still spans every epoch).")
@click.option("--resume", metavar="PATH|auto", default=None,
              help="Continue from a checkpoint, or 'auto' for OUT/last.pt when there is one.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Where to train.  [default: cuda if available, else cpu]")
@report_to_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def train_chargpt(name: str, data_root: Path | None, certificates: Path | None, out: Path | None,
                  epochs: int | None, max_steps: int | None, resume: str | None, device: str | None,
                  report_to: str, as_json: bool) -> None:
    """Train the byte-level GPT on a certificate corpus, as [train.chargpt] says.

    Packs whole certificates of train.txt/val.txt into rows of context_length + 1
    bytes; AdamW with warmup and cosine decay, gradient accumulation to
    tokens_per_batch, bf16 autocast on a GPU. After each epoch: val loss and
    perplexity, a checkpoint with optimizer state (the best keep_best by val loss stay,
    and last.pt), curve.png, and early stopping after `patience` epochs without a
    better val loss. Prints the parameter count; config.json holds every setting.

    \b
    Examples:
      prover-data export-certificates demo
      prover-data train-chargpt demo --device cpu
      prover-data train-chargpt iter_4 --max-steps 500        # stop early ...
      prover-data train-chargpt iter_4 --resume auto          # ... and continue exactly
      prover-data train-chargpt demo --epochs 1 --out /tmp/run --json | jq .best
    """
    from prover_data.certificates.corpus import default_out
    from prover_data.manifest import load_manifest
    from prover_models.chargpt.train import train

    manifest = load_manifest(name, data_root, check_files=False)
    with progress(quiet=as_json) as bar:
        summary = train(manifest, certificates or default_out(manifest), out or Path("runs") / manifest.name / "chargpt",
                        epochs=epochs, max_steps=max_steps, resume=resume, device=device or "auto", log=info,
                        progress=bar, report_to=report_to)
    if as_json:
        print_json(summary)
        return
    best = summary["best"]
    info(f"{summary['parameters']:,} parameters; {summary['epochs_done']} epochs, {summary['steps_done']} steps"
         + (f"; best val loss {best['val_loss']:.4f} (perplexity {best['val_perplexity']:.3f}) at epoch "
            f"{best['epoch']}" if best else "")
         + f"; kept {', '.join(summary['checkpoints']) or 'no epoch checkpoint yet'} in {summary['out']}")


@click.command("sample-chargpt")
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--certificates", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Corpus for prompts and the memorization check.  [default: the one the run trained on]")
@click.option("--n", type=click.IntRange(min=1), default=16, show_default=True, help="Samples to draw.")
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.8, show_default=True)
@click.option("--top-p", type=click.FloatRange(min=0.0, max=1.0, min_open=True), default=0.9, show_default=True,
              help="Nucleus sampling: keep the most likely bytes up to this probability mass.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the prompt choice and the sampling.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=None,
              help="Bytes to generate per sample.  [default: up to the context length]")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the samples, one after another, to this text file.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Where to sample.  [default: cuda if available, else cpu]")
@click.option("--json", "as_json", is_flag=True, help="The report, every sample included, as JSON.")
def sample_chargpt(checkpoint: Path, certificates: Path | None, n: int, temperature: float, top_p: float,
                   seed: int, max_new_tokens: int | None, out_file: Path | None, device: str | None,
                   as_json: bool) -> None:
    """Sample certificates from a checkpoint, prompted by val theorems, and check them.

    Each prompt is the @T line of a val theorem; the model writes the rest. Reports
    the share of samples that pass the certificate validator, and the share that are
    near-duplicates of a training certificate (character 5-gram Jaccard of the proof
    body >= 0.9): the memorization check.

    \b
    Examples:
      prover-data sample-chargpt runs/demo/chargpt/last.pt --device cpu
      prover-data sample-chargpt runs/iter_4/chargpt/epoch_042.pt --n 64 --temperature 1.0
      prover-data sample-chargpt runs/demo/chargpt/last.pt --json | jq '.valid_share, .near_duplicate_share'
      prover-data sample-chargpt runs/demo/chargpt/last.pt --out samples.txt && prover-data check-certificates samples.txt
    """
    from prover_data.atomic import atomic_write_text
    from prover_data.console import print_table
    from prover_models.chargpt.sample import sample

    with progress(quiet=as_json) as bar:
        report = sample(checkpoint, certificates=certificates, n=n, temperature=temperature, top_p=top_p,
                        seed=seed, max_new_tokens=max_new_tokens, device=device or "auto", progress=bar)
    if out_file is not None:
        atomic_write_text(out_file, "".join(s["text"] if s["text"].endswith("\n") else s["text"] + "\n"
                                            for s in report["samples"]))
    if as_json:
        print_json(report)
        return
    for s in report["samples"][:3]:
        click.echo(s["text"])
    print_table(f"{n} samples from {checkpoint} (temperature {temperature}, top-p {top_p})",
                ["check", "samples", "share"],
                [("pass the validator", report["valid"], f"{report['valid_share']:.1%}"),
                 ("end with @E", round(report["finished_share"] * n), f"{report['finished_share']:.1%}"),
                 ("near-duplicate of a train certificate", report["near_duplicates"],
                  f"{report['near_duplicate_share']:.1%}"),
                 ("equal to the val ground truth", report["ground_truth_matches"],
                  f"{report['ground_truth_matches'] / n:.1%}")])
    errors = [s["first_error"] for s in report["samples"] if s["first_error"]]
    if errors:
        distinct = sorted(set(errors))
        info(f"first errors ({min(5, len(distinct))} of {len(distinct):,} distinct, in {len(errors):,} invalid "
             "samples): " + "; ".join(distinct[:5]))


# --------------------------------------------------------------------------- EBM and separation probe


def _open_dense(embeddings_dir: Path, name: str):
    """The dense embedding export the EBM and the probe read (``--embeddings``)."""
    from prover_data.embeddings.dense import DenseEmbeddings

    if not embeddings_dir.is_dir():
        raise InputError.one(str(embeddings_dir), "no dense embedding export here; write one with "
                                                  f"`prover-data embeddings export {name}` (after `prover-data embed "
                                                  f"{name}` has encoded the build's states), or pass --embeddings DIR")
    return DenseEmbeddings.open(embeddings_dir)


@click.command("train-ebm")
@click.argument("name")
@data_root_option
@build_dir_option("build_dir")
@click.option("--embeddings", "embeddings_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Dense embedding export to train on, checked against the manifest's [embeddings].  "
                   "[default: BUILD_DIR/NAME/embeddings, as prover-data embeddings export writes it]")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory.  [default: runs/NAME/ebm]")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Override [train.ebm] steps (the cosine schedule's length too); warmup then takes at most "
                   "10% of them.")
@click.option("--resume", default="auto", show_default=True, metavar="auto|none|PATH",
              help="'auto': continue OUT/last.pt when there is one; 'none': start afresh; or a last.pt.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--allow-dtype-cast", is_flag=True,
              help="Train on embeddings of another dtype than the manifest's embeddings.dtype.")
@missing_option
@report_to_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def train_ebm(name: str, data_root: Path | None, build_dir: Path, embeddings_dir: Path | None, out: Path | None,
              steps: int | None, resume: str, device: str, allow_dtype_cast: bool, missing: str | None,
              report_to: str, as_json: bool) -> None:
    """Train the energy-based value model on a build's contrastive samples.

    Reads BUILD_DIR/NAME/contrastive_train.parquet and contrastive_val.parquet, the
    dense embeddings of their states, and [train.ebm] (head shape, batch, lr, steps,
    warmup). Refuses embeddings whose dtype, encoder or dimension differ from the
    manifest's [embeddings]. Samples whose states have no vector stop the run, naming
    them, unless --missing skip: then a sample whose positive has none is dropped, a
    negative without one is refilled from its tier's pool (contrastive_pools.parquet)
    or its sample dropped, and the table says how many. Prints the report's "EBM
    Training Progress" table and writes OUT/metrics.jsonl, progress.md, curves.png,
    summary.json, best.pt (lowest val loss) and last.pt. Ctrl-C stops at the end of
    the current step; the same command then continues from last.pt exactly where it
    stopped.

    \b
    Examples:
      prover-data embeddings export iter_4 && prover-data train-ebm iter_4
      prover-data train-ebm demo --steps 300 --device cpu
      prover-data train-ebm iter_4 --embeddings /scratch/iter_4_fp16 --resume none --out runs/iter_4/ebm_b
      prover-data train-ebm iter_4 --json | jq .best_val_loss
      prover-data train-ebm iter_4 --missing skip   # zero vectors dropped at import, not re-encoded
    """
    from prover_data.atomic import exclusive
    from prover_data.build.files import Build
    from prover_data.manifest import load_manifest
    from prover_models import ebm
    from prover_models.devices import pick_device

    manifest = load_manifest(name, data_root, check_files=False)
    cfg = _ebm_config(manifest, steps)
    device = pick_device(device)
    build, out = Build(manifest, build_dir), out or Path("runs") / manifest.name / "ebm"
    data = _ebm_data(manifest, build, embeddings_dir or build.embeddings, allow_dtype_cast, missing)
    with exclusive(out / ".lock", what=f"EBM run {out}"), progress(quiet=as_json) as bar:
        summary = _run_ebm(cfg, data, out, device, None if resume == "none" else resume, bar, as_json,
                           length_from_cli=steps is not None, report_to=report_to)

    if as_json:
        print_json({**summary.to_dict(), "device": device, "meta": data.meta, "warnings": data.warnings,
                    "train_samples": len(data.train_set), "val_samples": len(data.val_set) if data.val_set else 0})
    else:
        click.echo(ebm.progress_table(summary.log) + "\n\n" + ebm.summary_lines(summary))
        info(f"run in {out}: best.pt, last.pt, metrics.jsonl, curves.png, progress.md, summary.json")
    if summary.stopped_early:
        info(f"stopped at step {summary.steps:,} of {summary.total_steps:,}; run the same command to continue")
        raise SystemExit(130)


def _ebm_config(manifest, steps: int | None):
    """[train.ebm], checked, with ``--steps`` applied (the trainer caps the warmup to fit it)."""
    import dataclasses

    from prover_models import ebm

    cfg = manifest.train.ebm if steps is None else dataclasses.replace(manifest.train.ebm, steps=steps)
    ebm.check_trainer(cfg, str(manifest.path))
    return cfg


@dataclass
class _EBMData:
    """What an EBM run trains and validates on, and the description its checkpoints pin."""

    train_set: Any  # prover_models.data.ContrastiveSamples
    val_set: Any  # None: a split with no val samples, trained without validation
    meta: dict
    warnings: list[str]


def _ebm_data(manifest, build, source: Path, allow_dtype_cast: bool, missing: str | None) -> _EBMData:
    """The build's contrastive samples over the dense export ``source``, checked against [embeddings].

    ``missing`` (else the manifest's ``embeddings.missing``) says what to do with samples
    whose states have no vector (``prover_models.missing_vectors``).
    """
    import pyarrow.parquet as pq

    from prover_data.identity import file_digest
    from prover_models import ebm
    from prover_models.data import ContrastiveSamples, split_pools

    embeddings = _open_dense(source, manifest.name)
    warnings = ebm.check_embeddings(embeddings, manifest.embeddings, source=str(source),
                                    manifest_file=str(manifest.path), allow_dtype_cast=allow_dtype_cast)
    for w in warnings:
        info(f"[yellow]warning:[/] {w}")
    k, seed = manifest.contrastive.k_negatives, manifest.contrastive.seed
    policy = missing or (manifest.embeddings.missing if manifest.embeddings else "refuse")

    def samples(split: str):
        data = ContrastiveSamples(build.output(f"contrastive_{split}"), embeddings, k=k, missing=policy,
                                  pools=split_pools(build.dir, split), seed=seed)
        if data.missing.dropped or data.missing.negatives_missing:
            info(data.missing.line(split))
        return data

    train_path, val_path = build.output("contrastive_train"), build.output("contrastive_val")
    train_set = samples("train")
    val_set = None  # a tiny split can have no val theorem with both labels: train without validation
    if not (val_path.is_file() and pq.ParquetFile(val_path).metadata.num_rows == 0):
        val_set = samples("val")
    else:
        info("[yellow]warning:[/] contrastive_val.parquet has no samples: training without validation")
    meta = {"manifest": manifest.name, "contrastive_train": file_digest(train_path),
            "contrastive_val": file_digest(val_path), "k_negatives": k, "missing": policy,
            "embeddings": {"dtype": embeddings.dtype, "dim": embeddings.dim, "version": embeddings.version,
                           "encoder": embeddings.encoder}}
    return _EBMData(train_set, val_set, meta, warnings)


def _run_ebm(cfg, data: _EBMData, out: Path, device: str, resume: str | None, bar, as_json: bool, **options):
    """``ebm.train`` with a progress bar, a line per log step, and Ctrl-C as "stop after this step"."""
    import signal

    from prover_models import ebm

    stop = {"asked": False}

    def ask_stop(signum, frame):  # finish the step, save last.pt, exit: resumable
        stop["asked"] = True

    task = bar.add_task("train-ebm", total=cfg.steps)

    def on_step(step: int, row: dict | None) -> bool:
        bar.update(task, completed=step + 1)
        if row is not None and not as_json:
            val = f" | val loss {row['val_loss']:.4f} gap {row['val_gap']:.2f}" if "val_loss" in row else ""
            bar.console.print(f"step {step:,} | loss {row['train_loss']:.4f} gap {row['train_gap']:.2f} "
                              f"rank {row['train_rank']:.2f}{val} | lr {ebm.sci(row['lr'])}")
        return stop["asked"]

    previous = signal.signal(signal.SIGINT, ask_stop)
    try:
        return ebm.train(cfg, data.train_set, data.val_set, out, device=device, resume=resume, meta=data.meta,
                         on_step=on_step, say=info, **options)
    finally:
        signal.signal(signal.SIGINT, previous)


@click.command("probe")
@click.argument("name")
@data_root_option
@build_dir_option("build_dir")
@click.option("--embeddings", "embeddings_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="A dense embedding export to probe (repeatable).  [default: BUILD_DIR/NAME/embeddings, as "
                   "prover-data embeddings export NAME writes it, unless only LLM checkpoints are given]")
@click.option("--checkpoints", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="An LLM checkpoint (model or LoRA adapter dir), a run dir of checkpoint-*, or a train-ebm "
                   "run dir (its best.pt and last.pt) (repeatable).")
@click.option("--base-model", default=None, help="Base model of LoRA adapter checkpoints.  [default: the adapter's]")
@click.option("--n-per-class", type=click.IntRange(min=0), default=200, show_default=True,
              help="Probe states per class, chosen by content and --seed; 0 takes all.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Encoding batch size.")
@click.option("--max-length", type=click.IntRange(min=1), default=None,
              help="Tokens per state when encoding.  [default: embeddings.max_length]")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16"]), default="float32", show_default=True,
              help="Dtype the checkpoints encode in.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where probe.json, probe.md and probe.png go.  [default: runs/NAME/probe]")
@missing_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def probe(name: str, data_root: Path | None, build_dir: Path, embeddings_dirs: tuple[Path, ...],
          checkpoints: tuple[Path, ...], base_model: str | None, n_per_class: int, seed: int, batch_size: int,
          max_length: int | None, dtype: str, device: str, out: Path | None, missing: str | None,
          as_json: bool) -> None:
    """Separation of positive and negative state embeddings: the report's probe table.

    Positives are states of BUILD_DIR/NAME/states.parquet that are only ever on proof
    paths, negatives states only ever off them (states with both labels are left out).
    For each dense export (--embeddings), each LLM checkpoint (--checkpoints, encoded
    with mean pooling of the last hidden state) and each checkpoint of a train-ebm run
    (--checkpoints RUN_DIR: the last hidden layer of its energy head over the export
    it was trained on) prints centroid L2 distance, mean norms and norm gap, and
    writes OUT/probe.json, probe.md and probe.png. A probe state without a vector in
    an export stops the probe unless --missing skip, which probes only the states
    every export has a vector for.

    With no option it probes the build's dense export, BUILD_DIR/NAME/embeddings
    (prover-data embed NAME, then prover-data embeddings export NAME, write it); a
    train-ebm run is probed beside that export too, unless --embeddings names others.

    \b
    Examples:
      prover-data probe demo                                # build/demo/embeddings
      prover-data probe demo --checkpoints runs/demo/ebm    # the export, best.pt and last.pt
      prover-data probe iter_4 --checkpoints runs/iter_4/sft --base-model /models/DeepSeek-Prover-V2-7B
      prover-data probe demo --embeddings /scratch/fp16 --embeddings /scratch/bf16 --json
    """
    from prover_data.build.files import Build
    from prover_data.manifest import load_manifest
    from prover_models import probe as probing
    from prover_models.devices import pick_device

    manifest = load_manifest(name, data_root, check_files=False)
    build = Build(manifest, build_dir)
    ebm_runs = [c for c in checkpoints if probing.is_ebm_run(c)]
    llm = [c for c in checkpoints if c not in ebm_runs]
    if not embeddings_dirs and (ebm_runs or not llm):
        embeddings_dirs = (build.embeddings,)
    exports = [(d, _open_dense(d, name)) for d in embeddings_dirs]
    heads = [(c, probing.export_for_head(c, exports)) for run in ebm_runs for c in probing.ebm_checkpoints(run)]
    policy = missing or (manifest.embeddings.missing if manifest.embeddings else "refuse")
    has_vector = probing.in_every_export([dense for _, dense in exports]) if policy == "skip" and exports else None
    states = probing.probe_set(build.output("states"), n_per_class, seed, has_vector=has_vector)
    found = probing.find_checkpoints(llm) if llm else []
    if found:
        _quiet_transformers()
    max_length = max_length or (manifest.embeddings.max_length if manifest.embeddings else 2048)
    results = []
    with progress(quiet=as_json) as bar:
        task = bar.add_task("probe", total=len(exports) + len(heads) + len(found))
        for d, dense in exports:
            results.append(probing.probe_embeddings(dense, states, str(d)))
            bar.advance(task)
        for c, dense in heads:
            results.append(probing.probe_energy_head(c, dense, states, device=pick_device(device)))
            bar.advance(task)
        for c in found:
            results.append(probing.probe_checkpoint(c, states, base_model=base_model, max_length=max_length,
                                                    batch_size=batch_size, device=pick_device(device), dtype=dtype))
            bar.advance(task)
    _write_probe(results, out or Path("runs") / manifest.name / "probe", as_json)


def _write_probe(results: list, out: Path, as_json: bool) -> None:
    """OUT/probe.json, probe.md and probe.png (one atomic directory), and the table or JSON on stdout."""
    import json

    from prover_data.atomic import atomic_dir
    from prover_models import probe as probing

    table = probing.probe_table(results)
    with atomic_dir(out) as tmp:
        (tmp / "probe.json").write_text(json.dumps([r.to_dict() for r in results], indent=2, sort_keys=True) + "\n")
        (tmp / "probe.md").write_text(table + "\n")
        probing.plot_probe(results, tmp / "probe.png")
    if as_json:
        print_json({"results": [r.to_dict() for r in results], "out": str(out)})
        return
    click.echo(table)
    info(f"wrote {out}/probe.json, probe.md, probe.png")
