"""``build-manifest``, ``query``, ``stats`` and ``diff``: building an iteration and looking at it."""

from __future__ import annotations

from pathlib import Path

import click

from prover_data.cli.options import build_dir_option, data_root_option
from prover_data.console import info, print_json, print_table, progress
from prover_data.errors import InputError

build_root_option = build_dir_option(help="Builds go to BUILD_DIR/NAME.")


@click.command("build-manifest")
@click.argument("name")
@data_root_option
@build_root_option
@click.option("--force", is_flag=True, help="Rebuild even when inputs, manifest and SQL are unchanged.")
@click.option("--wait", is_flag=True, help="If another build of NAME is running, wait for it instead of failing.")
@click.option("--json", "as_json", is_flag=True, help="Print the build's statistics as JSON.")
def build_manifest(name: str, data_root: Path | None, build_root: Path, force: bool, wait: bool, as_json: bool) -> None:
    """Build an iteration's datasets, lock and report from manifest NAME.

    Validates every input (all problems reported, exit 2, nothing written), runs the
    sql/ views and writes BUILD_DIR/NAME/ atomically: sft_train/sft_val,
    contrastive_train/contrastive_val and states (parquet), eval sets, report.md with
    plots, stats.json, lock.json and views.duckdb. A crash leaves the previous build
    intact. With unchanged inputs, manifest, SQL and versions it is a no-op.

    \b
    Examples:
      prover-data build-manifest demo                       # the bundled sample
      prover-data build-manifest iter_4 --data-root replica
      PROVER_DATA_ROOT=/data/iter4 prover-data build-manifest iter_4 --json | jq .sft
      duckdb build/iter_4/views.duckdb -c "SELECT count(*) FROM sft_train"
    """
    from prover_data.build.files import Build
    from prover_data.build.stages import build
    from prover_data.manifest import load_manifest

    manifest = load_manifest(name, data_root)
    with progress(quiet=as_json) as bar:
        result = build(manifest, build_root, force=force, wait=wait, progress=bar)
    if as_json:
        print_json({"name": result.name, "out": str(result.out_dir), "up_to_date": result.up_to_date,
                    "stats": result.stats, "outputs": result.lock.outputs, "inputs_checked": list(result.checked)})
        return
    if result.up_to_date:
        info(f"{result.out_dir} is up to date (inputs, manifest, SQL and versions unchanged); nothing to do")
        return
    click.echo(Build(manifest, build_root).report.read_text(encoding="utf-8"))
    known = len([e for e in result.lock.inputs if e.role != "embeddings"]) - len(result.checked)
    info(f"validated {len(result.checked)} input(s)" + (f"; {known} known clean from earlier builds" if known else ""))
    info(f"built {result.out_dir}: " + ", ".join(
        f"{k} {v['rows']:,}" for k, v in result.lock.outputs.items() if v.get("rows") is not None))


@click.command("query")
@click.argument("name")
@click.argument("sql")
@data_root_option
@build_root_option
@click.option("--json", "as_json", is_flag=True, help="Rows as a JSON list of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Rows as CSV on stdout.")
@click.option("--parquet", "parquet_path", type=click.Path(dir_okay=False, path_type=Path), help="Write rows to a parquet file.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows shown in the table view.")
def query(name: str, sql: str, data_root: Path | None, build_root: Path, as_json: bool, as_csv: bool,
          parquet_path: Path | None, limit: int) -> None:
    """Run ad-hoc DuckDB SQL over manifest NAME's views and build outputs.

    Every view in sql/ is available over the manifest's inputs (trajectories,
    theorem_split, sft_pairs, sft_file_stats, contrastive_samples, contrastive_stats,
    states, ...), and so are the outputs of the last build (sft_train, sft_val,
    contrastive_train, contrastive_val, states).

    \b
    Examples:
      prover-data query demo "SELECT source, count(*) FROM trajectories GROUP BY ALL"
      prover-data query iter_4 "SELECT * FROM contrastive_stats" --json
      prover-data query iter_4 "SELECT * FROM sft_train WHERE source = 'iter_2'" --parquet iter2.parquet
    """
    import duckdb

    from prover_data.api import open as open_dataset

    ds = open_dataset(name, data_root, build_root)
    try:
        rel = ds.sql(sql)
    except duckdb.Error as e:
        raise InputError.one("query", f"DuckDB rejected the query: {e}") from None
    if rel is None:
        return
    if parquet_path is not None:
        from prover_data.atomic import atomic_file
        import pyarrow.parquet as pq

        table = rel.to_arrow_table()
        with atomic_file(parquet_path) as f:
            pq.write_table(table, f)
        info(f"wrote {table.num_rows:,} rows to {parquet_path}")
    elif as_json:
        table = rel.to_arrow_table()
        print_json(table.to_pylist())
    elif as_csv:
        import csv
        import sys

        writer = csv.writer(sys.stdout)
        writer.writerow(rel.columns)
        for row in rel.fetchall():
            writer.writerow(row)
    else:
        rows = rel.limit(limit).fetchall()
        print_table(None, rel.columns, rows)


@click.command("stats")
@click.argument("name")
@data_root_option
@build_root_option
@click.option("--json", "as_json", is_flag=True, help="Every figure as JSON.")
def stats(name: str, data_root: Path | None, build_root: Path, as_json: bool) -> None:
    """Print the data tables of NAME's last build (build it first if needed).

    \b
    Examples:
      prover-data stats demo
      prover-data stats iter_4 --json | jq '.contrastive.train'
    """
    from prover_data.build.files import Build
    from prover_data.manifest import load_manifest

    data = Build(load_manifest(name, data_root, check_files=False), build_root).stats
    if as_json:
        print_json(data)
        return
    from prover_data.build.report import render

    click.echo(render(data))


@click.command("diff")
@click.argument("a")
@click.argument("b")
@build_root_option
@click.option("--json", "as_json", is_flag=True, help="The comparison as JSON.")
def diff(a: str, b: str, build_root: Path, as_json: bool) -> None:
    """Compare two builds' locks: what changed, and whether the records did.

    A and B are lock.json files, build directories or manifest names (looked up in
    BUILD_DIR). The verdict uses TFDS's terms: "same records" (nothing changed),
    "metadata only" (inputs, SQL or versions changed but every output is identical),
    "different records".

    \b
    Examples:
      prover-data diff iter_3 iter_4
      prover-data diff build/iter_4/lock.json /archive/iter_4/lock.json --json
    """
    from prover_data.build.lock import Lock, diff as diff_locks

    d = diff_locks(Lock.read(_lock_path(a, build_root)), Lock.read(_lock_path(b, build_root)))
    if as_json:
        print_json(d.to_dict())
        return
    for title, items in (("inputs added", d.inputs_added), ("inputs removed", d.inputs_removed),
                         ("inputs changed", d.inputs_changed), ("SQL files changed", d.sql_changed)):
        if items:
            click.echo(f"{title}:")
            for item in items:
                click.echo(f"  {item}")
    if d.manifest_changed:
        click.echo("manifest changed")
    for pkg, (va, vb) in d.versions_changed.items():
        click.echo(f"version of {pkg}: {va} -> {vb}")
    print_table("outputs", ["output", "rows A", "rows B", "delta", "content"],
                [(n, o["rows_a"] if o["rows_a"] is not None else "-", o["rows_b"] if o["rows_b"] is not None else "-",
                  "-" if o["delta"] is None else f"{o['delta']:+,}", "same" if o["same_content"] else "differs")
                 for n, o in d.outputs.items()])
    click.secho(f"verdict: {d.verdict}", bold=True)


def _lock_path(ref: str, build_root: Path) -> Path:
    """A lock file, a build directory's lock, or the lock of build ``ref`` under ``build_root``
    (by name, without its manifest: an archived build's manifest may be gone)."""
    from prover_data.build.files import LOCK

    p = Path(ref)
    if p.is_file():
        return p
    if p.is_dir():
        return p / LOCK
    return Path(build_root) / ref / LOCK
