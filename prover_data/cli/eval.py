"""``eval build``, ``eval audit`` and ``eval compare``: eval sets that never meet training."""

from __future__ import annotations

from pathlib import Path

import click

from prover_data.cli.build import build_root_option, data_root_option
from prover_data.console import info, print_json


@click.group("eval")
def eval_group() -> None:
    """Sample eval sets disjoint from training, audit lists, compare eval runs.

    \b
    Examples:
      prover-data eval build iter_4 --data-root replica --out data/
      prover-data eval audit data/burnqed/minif2f_test.json iter_4
      prover-data eval compare runs/llm_only.parquet runs/ebm90.parquet --plot eval.png
    """


@eval_group.command("build")
@click.argument("name")
@data_root_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Directory for SET.json files, or a .json file when the manifest has one eval set.")
@click.option("--json", "as_json", is_flag=True, help="Print every set's statistics as JSON.")
def build_cmd(name: str, data_root: Path | None, out: Path, as_json: bool) -> None:
    """Sample manifest NAME's [[eval.sets]] from its theorem index, disjoint from training.

    Excludes every theorem of the trajectory files, every theorem with base tactic
    pairs in the SFT data, every theorem of each set's exclude_held_out lists, and
    every theorem whose statement equals one of theirs up to whitespace. Sampling
    ranks theorems by a hash of seed and name, so it does not depend on file order.
    Writes SET.json (theorem-index shape) atomically and prints the report's lines.

    \b
    Examples:
      prover-data eval build iter_4 --data-root replica --out data/
      prover-data eval build demo --out /tmp/eval_clean_20.json
      prover-data eval build iter_4 --json | jq '.sets[].excluded'
    """
    from prover_data.errors import InputError
    from prover_data.evaluation.sets import build_eval_set, report_lines, training_theorems, write_eval_set
    from prover_data.inputs.trajectories import check_trajectories
    from prover_data.manifest import load_manifest
    from prover_data.views import connect

    manifest = load_manifest(name, data_root)
    sets = manifest.eval.sets
    if not sets:
        raise InputError.one(str(manifest.path), "no [[eval.sets]] declared: nothing to build", key="eval.sets")
    if out.suffix == ".json" and len(sets) > 1:
        raise InputError.one(str(out), f"the manifest declares {len(sets)} eval sets; --out must be a directory")
    check_trajectories(manifest)
    con = connect(manifest, embedding_tier=False)
    try:
        training = training_theorems(con)
    finally:
        con.close()
    results = {}
    for spec in sets:
        result = build_eval_set(spec, manifest, training)
        path = write_eval_set(result, out if out.suffix == ".json" else out / f"{spec.name}.json")
        results[spec.name] = (result, path)
    if as_json:
        print_json({"manifest": manifest.name, "sets": {n: {"file": str(p), **r.stats}
                                                         for n, (r, p) in results.items()}})
        return
    for n, (r, p) in results.items():
        click.echo(f"### Eval dataset: `{p}`")
        click.echo("\n".join(report_lines(r)))
        click.echo()
        info(f"wrote {p} ({r.theorems.num_rows:,} theorems)")


@eval_group.command("audit")
@click.argument("file")
@click.argument("name")
@data_root_option
@build_root_option
@click.option("--json", "as_json", is_flag=True, help="Print the audit as JSON (exit status as without it).")
def audit_cmd(file: str, name: str, data_root: Path | None, build_root: Path, as_json: bool) -> None:
    """Check theorem list FILE against manifest NAME's training data.

    Training data: every theorem of the manifest's trajectory files, every theorem
    with base tactic pairs in the SFT data, and, when BUILD_DIR/NAME exists, the
    theorems of its sft_* and contrastive_* outputs. A theorem overlaps when its name
    is one of them or its statement equals one of theirs up to whitespace (statements
    of training theorems come from the theorem index and held-out lists). FILE is a
    theorem list ({"theorems": [{"name", "statement"}]}) or the name of a
    [sources.held_out] list of the manifest.

    Exit status: 0 when no theorem overlaps, 2 when any does (each one is listed).

    \b
    Examples:
      prover-data eval audit data/burnqed/minif2f_test.json demo
      prover-data eval audit putnam iter_4 --data-root replica
      prover-data eval audit build/iter_4/eval/eval_clean_100.json iter_4 --json
    """
    from prover_data.build.files import Build
    from prover_data.evaluation.sets import audit_file, overlap_error
    from prover_data.manifest import load_manifest

    manifest = load_manifest(name, data_root)
    path = Path(file)
    if not path.exists() and file in manifest.sources.held_out:
        path = manifest.held_out_paths()[file]
    report = audit_file(path, manifest, Build(manifest, build_root))
    if as_json:
        print_json(report.to_dict())
    else:
        sources = ", ".join(f"{k} ({v:,})" for k, v in report.training.items())
        click.echo(f"Audited {report.theorems:,} theorems of {report.source} against training theorems of "
                   f"{sources}, by name and whitespace-normalized statement.")
        if report.training_without_statement:
            click.echo(f"{report.training_without_statement:,} training theorems have no statement in the theorem "
                       "index or held-out lists and are matched by name only.")
        click.echo(f"{len(report.overlaps):,} theorems overlap the training data (each listed as an error)."
                   if report.overlaps else "No overlap.")
    if report.overlaps:
        raise overlap_error(report.overlaps)


@eval_group.command("compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--names", "names", multiple=True,
              help="Name of each run, in order (repeat it; default: file stems without their common prefix).")
@click.option("--config", "configs", multiple=True, metavar="NAME=PATH",
              help="Search config (TOML) a run used; NAME is its name or file stem. Repeat per run. Default: "
                   "<stem>.search.toml or <stem>.toml beside the parquet.")
@click.option("--eval-set", type=click.Path(dir_okay=False, path_type=Path),
              help="The eval set the runs searched (theorem list), to count theorems that never ran.")
@click.option("--require-configs", is_flag=True, help="Exit 2 when any run's search config is unknown.")
@click.option("--repeated-searches", type=click.Choice(["refuse", "split_at_roots"]), default="refuse",
              show_default=True,
              help="A run holding several searches of one theorem (several roots): refuse it, or read each root "
                   "as a new search (a theorem is proved when any of its searches proves it).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG bar chart here.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_cmd(runs: tuple[Path, ...], names: tuple[str, ...], configs: tuple[str, ...], eval_set: Path | None,
                require_configs: bool, repeated_searches: str, plot_path: Path | None, as_json: bool) -> None:
    """Compare eval search runs: one trajectory parquet per prover config.

    Prints the report's "Clean eval results" table (proved / ran / rate), each
    run's gains and regressions against the first run (the baseline), proofs only
    one run found (with proof depth and search nodes), median and max proof depth,
    and the search config of every run: its content hash and every value that
    differs between runs. A run whose config is unknown is flagged in the output.

    \b
    Examples:
      prover-data eval compare eval/eval_clean_100_llm_only.parquet eval/eval_clean_100_ebm90.parquet \\
          --names "LLM-only" --names "LLM+EBM 90%" \\
          --config LLM-only=configs/llm_only.toml --config "LLM+EBM 90%=configs/search.toml"
      prover-data eval compare data/sample/eval/*.parquet --eval-set eval_clean_100.json --plot eval.png
      prover-data eval compare a.parquet b.parquet --json | jq .versus_baseline
    """
    from prover_data.errors import InputError
    from prover_data.evaluation.compare import compare, default_names, markdown_lines, plot, read_run, warnings

    if names and len(names) != len(runs):
        raise InputError.one("--names", f"{len(names)} names given for {len(runs)} runs; give one per run, in order")
    labels = list(names) if names else default_names(list(runs))
    by_key: dict[str, str] = {}
    for spec in configs:
        key, sep, value = spec.partition("=")
        if not sep or not key or not value:
            raise InputError.one("--config", f"expected NAME=PATH, got {spec!r}")
        if key not in labels and key not in [p.stem for p in runs]:
            raise InputError.one("--config", f"'{key}' names no run (runs: {', '.join(labels)})")
        by_key[key] = value
    loaded = []
    for label, path in zip(labels, runs):
        cfg = by_key.get(label, by_key.get(path.stem))
        loaded.append(read_run(path, label, cfg, repeated_searches))
    theorems = None
    if eval_set is not None:
        from prover_data.inputs.theorem_lists import read_theorem_list

        theorems = read_theorem_list(eval_set)
    c = compare(loaded, theorems, str(eval_set) if eval_set else None)
    if plot_path is not None:
        plot(c, plot_path)
    if as_json:
        print_json({**c.to_dict(), "warnings": warnings(c), "plot": str(plot_path) if plot_path else None})
    else:
        click.echo("\n".join(markdown_lines(c)))
    from rich.markup import escape

    for w in warnings(c):  # on stderr in both modes: a script piping --json still shows them
        info(f"[bold red]warning:[/] {escape(w)}")
    if plot_path is not None and not as_json:
        info(f"wrote {plot_path}")
    if require_configs and c.configs["unknown"]:
        raise InputError.one("--config", f"search config unknown for {', '.join(c.configs['unknown'])} "
                                         "(--require-configs)")
