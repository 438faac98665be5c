"""What a build records about itself, assembled in one place: ``stats.json`` and the lock's outputs.

Each stage returns its part as a value: the views' figures (``build.stats.ViewFigures``),
the embedding tier's report (``EmbeddingTier.stats``), the rows of each dataset written
(``outputs.write_outputs``), the eval sets written and audited
(``evaluation.sets.EvalSetsWritten``), the store's coverage of the states
(``coverage.BuildCoverage``, counted on the side thread) and the plots drawn. No stage
patches a shared dict and no figure waits as a placeholder for a later one: the build
thread puts the parts together here once they are known. ``report.render`` turns the
result into ``report.md``.
"""

from __future__ import annotations

from prover_data.build.files import Build, eval_file, output_file
from prover_data.build.stats import ViewFigures
from prover_data.embeddings.coverage import BuildCoverage
from prover_data.evaluation.sets import EvalSetsWritten, report_lines
from prover_data.identity import file_digest
from prover_data.manifest import Manifest
from prover_data.version import __version__


def view_statistics(manifest: Manifest, views: ViewFigures, tier: dict | None) -> dict:
    """The figures known once the views are computed (all but the embeddings, eval and
    plots keys of ``stats.json``): what the report's plots are drawn from."""
    stats = {
        "labels": views.labels,
        "preferences": views.preferences,
        "values": views.values,
        "name": manifest.name,
        "description": manifest.description,
        "manifest": manifest.path.name,
        "version": __version__,
        "split": {"val_fraction": manifest.split.val_fraction, "seed": manifest.split.seed},
        "files": views.files,
        "sft": views.sft,
        "contrastive": {**views.contrastive, "embedding_tier": tier},
    }
    if views.search_config_text is not None:
        stats["search_config_text"] = views.search_config_text
    return stats


def statistics(manifest: Manifest, views: ViewFigures, tier: dict | None, eval_sets: EvalSetsWritten | None,
               coverage: BuildCoverage | None, plots: dict[str, str]) -> dict:
    """``stats.json``: every part of the build's figures, under its key.

    ``embeddings.uncached`` is None exactly when the manifest has no ``[embeddings]``
    section (nothing to count against); ``eval`` and ``audit`` are there when it
    declares eval sets or audit lists.
    """
    emb = manifest.embeddings
    stats = view_statistics(manifest, views, tier)
    stats["embeddings"] = {"unique_states": views.unique_states, "dim": emb.dim if emb else None,
                           **(coverage.figures() if coverage is not None else {"uncached": None})}
    if eval_sets is not None:
        stats["eval"] = {r.name: {"file": eval_file(r.name), "lines": report_lines(r), **r.stats}
                         for r in eval_sets.results}
        stats["audit"] = {"lists": list(eval_sets.audited), "sets": [r.name for r in eval_sets.results],
                          "verdict": "no overlap"}
    stats["plots"] = plots
    return stats


def lock_outputs(staged: Build, written: dict[str, int], eval_sets: EvalSetsWritten | None) -> dict[str, dict]:
    """The lock's ``outputs``: every file of ``staged`` a rebuild must reproduce, with
    its rows (None for the report) and content hash."""
    entries: dict[str, tuple[str, int | None]] = {name: (output_file(name), rows) for name, rows in written.items()}
    for r in eval_sets.results if eval_sets is not None else ():
        entries[f"eval/{r.name}"] = (eval_file(r.name), r.theorems.num_rows)
    entries["report"] = (staged.report.relative_to(staged.dir).as_posix(), None)
    return {key: {"file": file, "rows": rows, "hash": file_digest(staged.dir / file)}
            for key, (file, rows) in entries.items()}
