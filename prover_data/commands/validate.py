"""``prover-data validate``: check input files and report every problem found."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from prover_data.console import print_json, print_table
from prover_data.errors import Problem

_SUFFIXES = (".parquet", ".json", ".toml")


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in _SUFFIXES and q.is_file()))
        else:
            out.append(p)
    return out


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--max-problems", type=int, default=20, show_default=True,
              help="Problems printed per file (all are counted).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document with every problem.")
def validate(paths: tuple[Path, ...], max_problems: int, as_json: bool) -> None:
    """Check inputs against their formats; report all problems, not only the first.

    Recognises trajectory parquets, BurnQED embeddings parquets, theorem lists and
    LeanDojo Benchmark 4 JSON, whole-proof sample JSON, search configs and manifests
    (by extension and content). A directory is searched for such files. Each problem
    names the file, the row (0-based) or row range, and the column or manifest key.
    Exit status 0 when everything is clean, 2 when any problem is found.

    \b
    Examples:
      prover-data validate data/sample
      prover-data validate replica/trajectories/*.parquet data/burnqed/minif2f_test.json
      prover-data validate manifests/iter_4.toml --json | jq '.files[] | select(.problems != [])'
    """
    from prover_data.sources import validate_path

    results = []
    for path in _expand(paths):
        if not path.exists():
            results.append((path, "?", None, [Problem(str(path), "no such file")]))
            continue
        results.append((path, *validate_path(path)))

    bad = sum(1 for r in results if r[3])
    if as_json:
        print_json({
            "files": [{"path": str(p), "kind": k, "rows": n, "problems": [vars(x) for x in probs]}
                      for p, k, n, probs in results],
            "clean": len(results) - bad,
            "with_problems": bad,
        })
    else:
        for path, kind, _, problems in results:
            if not problems:
                continue
            classes = Counter(p.message.split(";")[0].split(" (")[0] for p in problems)
            click.secho(f"{path} ({kind}): {len(problems)} problem(s)", fg="red", err=True)
            for p in problems[:max_problems]:
                click.echo(f"  {p}", err=True)
            if len(problems) > max_problems:
                click.echo(f"  ... {len(problems) - max_problems} more", err=True)
            for message, n in classes.most_common():
                click.echo(f"  {n} x {message}", err=True)
        print_table(
            f"{len(results)} file(s): {len(results) - bad} clean, {bad} with problems",
            ["file", "kind", "rows", "status"],
            [(str(p), k, n if n is not None else "-", "ok" if not probs else f"{len(probs)} problem(s)")
             for p, k, n, probs in results],
        )
    if bad:
        sys.exit(2)
