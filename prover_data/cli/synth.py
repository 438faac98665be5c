"""``prover-data synth``: write the report-scale replica of an iteration's inputs."""

from __future__ import annotations

from pathlib import Path

import click

from prover_data.console import print_json, print_table, progress
from prover_data.errors import InputError


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--scale", type=click.FloatRange(min=0.0005, max=64.0), default=1.0, show_default=True,
              help="1.0 is the report's size (~650K records, ~15K theorems).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and scale, same bytes.")
@click.option("--copy-lists/--no-copy-lists", default=True, show_default=True,
              help="Copy the real benchmark lists and search config into OUT/benchmarks and OUT/configs.")
@click.option("--repeated-searches", type=click.FloatRange(min=0.0, max=1.0), default=0.0, show_default=True,
              help="Share of each search file's theorems searched again in the same file (a resumed run "
                   "appended, node ids restarting at 0); read it with [sources] repeated_searches = "
                   "\"split_at_roots\".")
@click.option("--proofs-per-search", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Proofs each proved search holds, as BurnQED's search writes them since it replays every "
                   "proof: only the first one's path is labelled positive, the others negative "
                   "(build with [labels] source = \"tree\" to label them from the tree).")
@click.option("--schema", type=click.Choice(["12", "14"]), default="14", show_default=True,
              help="Columns of the trajectory files: 14, or 12 as BurnQED wrote before q_value and visits.")
@click.option("--sft-pairs", type=click.IntRange(min=1), default=None,
              help="Write only OUT/sft_train.parquet (this many pairs) and sft_val.parquet, of BurnQED's "
                   "token-length distribution: a build directory for benchmarking train-sft's batching.")
@click.option("--force", is_flag=True, help="Replace OUT if it already holds files.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def synth(out: Path, scale: float, seed: int, copy_lists: bool, repeated_searches: float, proofs_per_search: int,
          schema: str, sft_pairs: int | None, force: bool, as_json: bool) -> None:
    """Write a synthetic replica of BurnQED trajectories and their companion files.

    OUT becomes a data root for a manifest: trajectories/ (the report's 8 files),
    eval/ (two eval search runs), theorem_index.json, held_out/train_eval.json,
    leandojo/benchmark4.json, and (unless --no-copy-lists) benchmarks/ and configs/.
    The search trees imitate best-first search: proof paths labelled positive with
    remaining_depth counting down, off-path negatives, roots with empty tactics, a few
    sorry tactics, states repeated across files, Unicode Lean goals.

    \b
    Examples:
      prover-data synth replica                      # report scale, ~20 s
      prover-data synth /tmp/small --scale 0.01 --seed 7
      prover-data synth replica --scale 16 --force   # 10M records, for benchmarks
      prover-data synth messy --scale 0.1 --repeated-searches 0.2
      prover-data synth replayed --scale 0.1 --proofs-per-search 3
      prover-data synth v1 --scale 0.1 --schema 12   # BurnQED's files before q_value, visits
      prover-data build-manifest iter_4 --data-root replica
      prover-data synth build/lengths --sft-pairs 20000   # SFT pairs only, BurnQED's lengths
    """
    from prover_data.synth import generate

    if out.exists() and any(out.iterdir()) and not force:
        raise InputError.one(str(out), "directory is not empty; pass --force to replace it")
    if sft_pairs is not None:
        from prover_data.synth.sft_lengths import write_sft_pairs

        counts = write_sft_pairs(out, sft_pairs, seed)
        if as_json:
            return print_json(counts)
        return print_table(f"SFT pairs at {out} (seed {seed})", ["file", "pairs"],
                           [(f"{k}.parquet", v) for k, v in counts.items()])
    with progress(quiet=as_json) as bar:
        summary = generate(out, scale=scale, seed=seed, copy_lists=copy_lists,
                           repeated_searches=repeated_searches, proofs_per_search=proofs_per_search,
                           schema=int(schema), progress=bar)
    if as_json:
        print_json(summary.to_dict())
        return
    print_table(
        f"Replica at {out} (scale {scale}, seed {seed})",
        ["file", "records", "positive", "negative", "unknown", "theorems", "with positives"],
        [(f.name, f.rows, f.positive, f.negative, f.unknown, f.theorems, f.proved) for f in summary.files],
    )
    print_table(
        None,
        ["total", "value"],
        [
            ("records", summary.records),
            ("theorems", summary.theorems),
            ("theorems with positives", f"{summary.proved_theorems:,} ({summary.proved_theorems / summary.theorems:.0%})"),
            ("unique states (positive/negative)", summary.unique_states),
            ("theorem index entries", summary.index_theorems),
            ("base tactic pairs", summary.base_tactics),
        ],
    )
