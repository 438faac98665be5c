"""``export-certificates`` and ``check-certificates``: the proof-certificate corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from prover_data.cli.options import data_root_option
from prover_data.console import info, print_json, print_table


@click.command("export-certificates")
@click.argument("name")
@data_root_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory, replaced whole (default: build/NAME-certificates).")
@click.option("--context-length", type=int, default=None,
              help="Context length the packing figures are computed for (default: [train.chargpt] context_length).")
@click.option("--json", "as_json", is_flag=True, help="Print the corpus statistics as JSON.")
def export_certificates(name: str, data_root: Path | None, out: Path | None, context_length: int | None,
                        as_json: bool) -> None:
    """Write manifest NAME's proofs as certificates for the char-level GPT.

    Each proved theorem's proof path (every trajectory file) and each chained LeanDojo
    base trace becomes one certificate (@T theorem, @C hypotheses, @G goals, @P
    tactics, @E end; see docs/certificates.md). Identical certificates are kept once;
    a stratified 90/10 split by proof type ([certificates] stratify_by) keeps each
    theorem's proofs on one side. Writes OUT/training.txt (all), train.txt, val.txt
    and stats.json atomically.

    \b
    Examples:
      prover-data export-certificates demo
      prover-data export-certificates iter_4 --data-root replica --out corpora/iter_4
      prover-data export-certificates demo --json | jq '.packing.train'
    """
    from prover_data.certificates.corpus import default_out, export
    from prover_data.manifest import load_manifest

    manifest = load_manifest(name, data_root)
    out = out or default_out(manifest)
    stats = export(manifest, out, context_length=context_length)
    if as_json:
        print_json({"out": str(out), **stats})
        return
    c, f, p = stats["certificates"], stats["files"], stats["packing"]
    print_table(f"certificates of {manifest.name} ({stats['settings']['states']} states) -> {out}",
                ["file", "certificates", "theorems", "bytes", "sequences", "too long", "padding"],
                [("training.txt", c["training"], sum(stats["theorems"].values()), f["training.txt"]["bytes"],
                  "-", "-", "-")]
                + [(f"{s}.txt", c[s], stats["theorems"][s], f[f"{s}.txt"]["bytes"], p[s]["sequences"],
                    p[s]["too_long"], f"{p[s]['padding_share']:.1%}") for s in ("train", "val")])
    print_table("proofs found and left out", ["reason", "proofs"],
                [*((f"found in {k}", v) for k, v in stats["proofs_found"].items()),
                 *((f"left out: {k}", v) for k, v in stats["left_out"].items()),
                 ("duplicates removed", stats["duplicates"])])
    too_long = p["train"]["too_long"] + p["val"]["too_long"]
    if too_long:
        over = ", ".join(f"{n:,} over {k}" for k, n in stats["bytes"]["over_context"].items())
        info(f"{too_long:,} certificates do not fit a {p['context_length']}-byte context and are left out of "
             f"packing (bytes per certificate: median {stats['bytes']['p50']:,}; {over}). A larger "
             "\\[train.chargpt] context_length or \\[certificates] states = \"first\" fits more "
             "(docs/certificates.md).")


@click.command("check-certificates")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--max-errors", type=int, default=20, show_default=True, help="Errors printed per file.")
@click.option("--json", "as_json", is_flag=True, help="Every error as JSON.")
def check_certificates(paths: tuple[Path, ...], max_errors: int, as_json: bool) -> None:
    """Check certificate files (a corpus or generated samples) against the grammar.

    Reports each structural error with its line number; exit status 2 when any is found.

    \b
    Examples:
      prover-data check-certificates build/demo-certificates/training.txt
      prover-data check-certificates samples.txt --json | jq '.files[0].errors[:3]'
    """
    from prover_data.certificates.grammar import split_corpus, validate_corpus

    results = []
    for path in paths:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            results.append((path, 0, [f"line {line}: not UTF-8 (invalid byte at offset {e.start})"]))
            continue
        results.append((path, len(split_corpus(text)), [str(e) for e in validate_corpus(text)]))
    if as_json:
        print_json({"files": [{"path": str(p), "certificates": n, "errors": errs} for p, n, errs in results]})
    else:
        for path, _, errs in results:
            for e in errs[:max_errors]:
                click.secho(f"{path}: {e}", err=True, fg="red")
            if len(errs) > max_errors:
                click.echo(f"{path}: ... and {len(errs) - max_errors:,} more errors not shown (raise --max-errors)",
                           err=True)
        print_table(None, ["file", "certificates", "errors"], [(str(p), n, len(errs)) for p, n, errs in results])
    if any(errs for _, _, errs in results):
        sys.exit(2)
