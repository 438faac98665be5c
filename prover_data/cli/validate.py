"""``prover-data validate``: check input files and report every problem found."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from prover_data.console import print_json, print_table, progress
from prover_data.errors import cut_line, tally

_SUFFIXES = (".parquet", ".json", ".toml")


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a directory stands for the recognised files below it (not hidden ones)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in _SUFFIXES and q.is_file()
                           and not any(part.startswith(".") for part in q.relative_to(p).parts))
            out.extend(found or [p])  # an empty directory is reported as a problem
        else:
            out.append(p)
    return out


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--max-problems", type=click.IntRange(min=1), default=None,
              help="Problem lines printed per file (default: all; --json always has all).")
@click.option("--repeated-searches", type=click.Choice(["refuse", "split_at_roots"]), default="refuse",
              show_default=True,
              help="A trajectory file with several searches of one theorem (several roots): refuse it, or read "
                   "each root as the start of a new search, as a manifest's [sources] repeated_searches does.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every file and problem.")
def validate(paths: tuple[Path, ...], max_problems: int | None, repeated_searches: str, as_json: bool) -> None:
    """Check input files against their formats and report every problem, not only the first.

    Recognises, by extension and content: trajectory parquets, BurnQED embeddings
    parquets, theorem lists and LeanDojo Benchmark 4 JSON, whole-proof sample JSON,
    search configs and manifests. A directory stands for the recognised files below
    it. Each problem names the file, the row (0-based; for JSON the entry's index)
    or row range, and the column or key; a rule broken in many rows is shown as its
    first row ranges plus a count. The rules are documented in prover_data/inputs/.

    Exit status: 0 when every file is clean, 2 when any problem is found.

    \b
    Examples:
      prover-data validate data/sample data/burnqed
      prover-data validate replica/trajectories/*.parquet --max-problems 10
      prover-data validate manifests/demo.toml data/burnqed/search.toml
      prover-data validate replica --json | jq '.files[] | select(.ok | not) | .path'
      prover-data validate merged_harvest.parquet --repeated-searches split_at_roots
    """
    from prover_data.errors import Problem
    from prover_data.inputs.detect import Validation, inspect_path

    files = _expand(paths)
    results: list[Validation] = []
    with progress(quiet=as_json) as bar:
        task = bar.add_task("validating", total=len(files))
        for path in files:
            if path.is_dir():
                results.append(Validation(path, "unknown", None, [Problem(
                    str(path), f"no input files here (looked for {', '.join(_SUFFIXES)})", check="no_file")]))
            else:
                results.append(inspect_path(path, repeated_searches))
            bar.advance(task)

    bad = [r for r in results if r.problems]
    if as_json:
        print_json({
            "files": [{"path": str(r.path), "kind": r.kind, "rows": r.rows, "ok": not r.problems,
                       "problems": [vars(p) for p in r.problems],
                       "by_rule": tally(r.problems)} for r in results],
            "files_checked": len(results),
            "clean": len(results) - len(bad),
            "with_problems": len(bad),
        })
    else:
        for r in bad:
            _print_file(r, max_problems)
        print_table(
            f"{len(results)} file(s): {len(results) - len(bad)} clean, {len(bad)} with problems",
            ["file", "kind", "rows", "status"],
            [(str(r.path), r.kind, r.rows if r.rows is not None else "-",
              "ok" if not r.problems else f"{len(r.problems)} problem(s)") for r in results],
        )
    if bad:
        sys.exit(2)


def _print_file(r, max_problems: int | None) -> None:
    shown = r.problems if max_problems is None else r.problems[:max_problems]
    click.secho(f"{r.path}: {r.kind}, {len(r.problems)} problem(s)", fg="red", bold=True, err=True)
    for p in shown:  # the file is named above: print where in it and what
        text = str(p)
        click.echo(f"  {text.removeprefix(p.file + ': ')}", err=True)
    cut = cut_line(r.problems, len(shown))
    if cut:
        click.echo(f"  {cut} (raise --max-problems to see them)", err=True)
    click.echo("  by rule: " + "; ".join(f"{rule}: {n:,}" for rule, n in tally(r.problems).items()), err=True)
