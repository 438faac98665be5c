"""``prover-data import-leandojo``: trace a Lean 4 repository into LeanDojo Benchmark 4 JSON.

The base tactic pairs of an iteration (``[sources.base_pairs]``, read by
``inputs.leandojo.read_leandojo``) are LeanDojo Benchmark 4 JSON: one object per theorem with
its traced tactics. This command makes that file from any Lean 4 repository at a
commit, with LeanDojo's tracer (``lean_dojo.trace``). Tracing builds the repository and
its dependencies with Lean, so it needs the ``lean`` extra (``pip install
'prover-data[lean]'``), a Lean toolchain (elan, which provides ``lake`` and ``lean``)
and network access to clone the repository; tracing Mathlib takes hours. Both
prerequisites are checked before anything is fetched.

The JSON is LeanDojo's own benchmark export: ``url``, ``commit``, ``file_path``,
``full_name``, ``start``, ``end`` and ``traced_tactics`` (``tactic``,
``annotated_tactic``, ``state_before``, ``state_after``), skipping tactics that start
from "no goals" and bullet tactics ("·"), as LeanDojo's generator does. Theorems are
written sorted by file and position, so the same trace gives the same bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from prover_data.console import info, print_json
from prover_data.errors import InputError

TOOLCHAIN = ("lake", "lean", "elan")
LEAN4_PACKAGES_DIR = ".lake/packages"  # where a dependency's files live inside the traced repo


def benchmark_entries(traced_repo, *, repo_only: bool = False) -> list[dict[str, Any]]:
    """LeanDojo Benchmark 4 entries of a ``lean_dojo.TracedRepo``, sorted by file and position.

    Theorems of Lean 4 itself are skipped, as LeanDojo's generator skips them; with
    ``repo_only`` so are the dependencies' theorems.
    """
    entries = []
    for thm in traced_repo.get_traced_theorems():
        if getattr(thm.repo, "is_lean4", False) or (repo_only and thm.repo != traced_repo.repo):
            continue
        entries.append(theorem_entry(thm, _file_path(traced_repo, thm), traced_repo.repo))
    return sorted(entries, key=lambda e: (e["file_path"], e["start"], e["full_name"]))


def theorem_entry(thm, file_path: str, repo) -> dict[str, Any]:
    """One theorem (a ``lean_dojo.TracedTheorem``) as a Benchmark 4 object."""
    tactics = []
    for t in thm.get_traced_tactics():
        if t.state_before == "no goals" or "·" in t.tactic:
            continue
        annotated, provenances = t.get_annotated_tactic()
        tactics.append({"tactic": t.tactic, "annotated_tactic": [annotated, provenances],
                        "state_before": t.state_before, "state_after": t.state_after})
    return {
        "url": repo.url,
        "commit": repo.commit,
        "file_path": file_path,
        "full_name": thm.theorem.full_name,
        "start": list(thm.start),
        "end": list(thm.end),
        "traced_tactics": tactics,
    }


def _file_path(traced_repo, thm) -> str:
    """The theorem's file, relative to the traced repo (dependencies under .lake/packages)."""
    if thm.repo == traced_repo.repo:
        return str(thm.theorem.file_path)
    for name, dep in traced_repo.dependencies.items():
        if dep == thm.repo:
            return f"{LEAN4_PACKAGES_DIR}/{name}/{thm.theorem.file_path}"
    raise ValueError(f"theorem {thm.theorem.full_name} belongs to {thm.repo}, which is not a dependency")


def _require_tracer():
    """lean_dojo, once the package and a Lean toolchain are known to be here."""
    try:
        import lean_dojo
    except ImportError:
        raise InputError.one("lean_dojo", "the LeanDojo tracer is not installed: "
                                          "pip install 'prover-data[lean]'") from None
    if not any(shutil.which(tool) for tool in TOOLCHAIN):
        raise InputError.one(
            "PATH", "no Lean toolchain found (none of lake, lean, elan is on PATH). Tracing builds the "
                    "repository with Lean: install elan (https://github.com/leanprover/elan), which fetches "
                    "the toolchain the repository's lean-toolchain file names, then run this again")
    return lean_dojo


@click.command("import-leandojo")
@click.argument("repo_url")
@click.argument("commit")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--repo-only", is_flag=True, help="Only the repository's own theorems, not its dependencies'.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
def import_leandojo(repo_url: str, commit: str, out: Path, repo_only: bool, as_json: bool) -> None:
    """Trace a Lean 4 repository with LeanDojo into Benchmark 4 JSON (base tactic pairs).

    REPO_URL is a GitHub URL or a local git repository; COMMIT a commit hash or tag.
    OUT receives one JSON list, the shape [sources.base_pairs] (format "leandojo")
    reads. Needs the lean extra (pip install 'prover-data[lean]'), a Lean toolchain
    (elan) and network access; LeanDojo caches traces in ~/.cache/lean_dojo
    ($CACHE_DIR), so a second run of the same commit is fast.

    \b
    Examples:
      prover-data import-leandojo https://github.com/leanprover-community/mathlib4 \\
          29dcec074de168ac2bf835a77ef68bbe069194c5 replica/leandojo/benchmark4.json
      prover-data import-leandojo ~/src/my-lean-project v0.3 pairs.json --repo-only
      prover-data validate pairs.json
    """
    from prover_data.atomic import atomic_write_text

    lean_dojo = _require_tracer()
    info(f"tracing {repo_url} at {commit} (this builds the repository with Lean; it can take hours)")
    traced = lean_dojo.trace(lean_dojo.LeanGitRepo(repo_url, commit))
    entries = benchmark_entries(traced, repo_only=repo_only)
    atomic_write_text(out, json.dumps(entries) + "\n")
    summary = {"out": str(out), "theorems": len(entries),
               "tactics": sum(len(e["traced_tactics"]) for e in entries), "url": repo_url, "commit": commit}
    if as_json:
        print_json(summary)
    else:
        info(f"wrote {summary['theorems']:,} theorems, {summary['tactics']:,} tactic pairs to {out}")
