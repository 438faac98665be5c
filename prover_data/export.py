"""Export a build as a Hugging Face Hub dataset whose card proves what is inside.

Layout (what ``datasets.load_dataset(OUT, config)`` reads offline, and what the Hub
shows): ``data/<config>/<split>-NNNNN-of-NNNNN.parquet`` for the configs ``sft``
(train/validation, with TRL's ``prompt`` / ``completion``), ``contrastive``
(train/validation), ``states`` (train), ``preferences`` and ``values``
(train/validation), ``eval``
(one split per eval set), ``certificates`` (train/validation) and, optionally,
``embeddings`` (one store version: ``state_hash`` + ``embedding`` as a fixed-size list
of float16 / float32). ``README.md`` is the dataset card: YAML declaring every config's
``data_files`` and features, split sizes and license, and a body carrying the build's
report tables, the lock (input content hashes, SQL hashes, versions) and the command
that rebuilds it. Nothing in it depends on the time of export, so exporting the same
build twice writes the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from prover_data.atomic import atomic_dir
from prover_data.build.files import Build
from prover_data.build.lock import Lock
from prover_data.build.outputs import PARQUET_OPTIONS, ROW_GROUP
from prover_data.errors import InputError

SHARD_ROWS = 250_000
# Split names on the Hub: `validation`, the name `datasets` and the viewer expect.
SPLIT_NAMES = {"train": "train", "val": "validation"}


@dataclass
class ExportConfig:
    """One dataset config: its splits, each a table to write."""

    name: str
    description: str
    splits: dict[str, pa.Table] = field(default_factory=dict)
    tags: dict = field(default_factory=dict)  # e.g. embedding dtype and encoder


@dataclass(frozen=True)
class ExportResult:
    out: Path
    configs: dict[str, dict[str, int]]  # config -> split -> rows


# The configs a build offers: (config, description, {split: build output}). Which
# outputs a Hub dataset carries is the export's choice (the pools are the EBM loader's
# own); the files are the build's (``build.files.Build.output``).
BUILD_CONFIGS = (
    ("sft", "(goal state, tactic) pairs for LoRA fine-tuning: proved trajectory steps and base tactic pairs, with "
            "`prompt` / `completion` as train-sft feeds them (TRL's prompt-completion format)",
     {"train": "sft_train", "validation": "sft_val"}),
    ("contrastive", "EBM contrastive samples: one positive state and K negative states (by state hash) per row",
     {"train": "contrastive_train", "validation": "contrastive_val"}),
    ("states", "every unique proof state of a positive or negative record, keyed by state_hash",
     {"train": "states"}),
    ("preferences", "DPO preference pairs at search-tree branch points (TRL's preference format: prompt, chosen, "
                    "rejected): a tactic that led to a proof against one that did not",
     {"train": "preferences_train", "validation": "preferences_val"}),
    ("values", "value targets per state: provable, distance to a proof, PUCT visits and q_value",
     {"train": "values_train", "validation": "values_val"}),
)


def collect(build: Build, *, certificates_dir: Path | None = None,
            embeddings=None) -> list[ExportConfig]:
    """The configs a build can offer (and the optional extras given)."""
    build.require(build.lock_file)
    configs = []
    for name, description, splits in BUILD_CONFIGS:
        tables = {split: _read(build.output(output)) for split, output in splits.items()}
        if name == "sft":
            tables = {split: _with_prompt(t) for split, t in tables.items()}
        configs.append(ExportConfig(name, description, tables))
    eval_files = build.eval_sets()
    if eval_files:
        from prover_data.inputs.theorem_lists import read_theorem_list

        configs.append(ExportConfig(
            "eval", "evaluation theorems, disjoint from every training output by name and normalized statement",
            {_split_name(p.stem): read_theorem_list(p) for p in eval_files}))
    if certificates_dir is not None:
        configs.append(_certificates_config(Path(certificates_dir)))
    if embeddings is not None:
        configs.append(_embeddings_config(embeddings))
    return configs


def _split_name(stem: str) -> str:
    """eval_clean_100 -> eval_clean_100 (a valid split name: letters, digits, '_')."""
    return re.sub(r"\W", "_", stem)


def _with_prompt(pairs: pa.Table) -> pa.Table:
    """SFT pairs with ``prompt`` (the state in the SFT prompt) and ``completion`` (the tactic):
    TRL's ``SFTTrainer`` reads them as they are, with the text train-sft trains on."""
    from prover_data.prompts import format_prompt

    prompts = pa.array([format_prompt(s) for s in pairs.column("state_pp").to_pylist()], pa.string())
    return pairs.append_column("prompt", prompts).append_column("completion", pairs.column("tactic"))


def _read(path: Path) -> pa.Table:
    if not path.is_file():
        raise InputError.one(str(path), "missing build output: rebuild with build-manifest")
    return pq.read_table(path)


def _certificates_config(cert_dir: Path) -> ExportConfig:
    """Certificates as rows of text, one certificate per row, from an export-certificates directory."""
    from prover_data.certificates.grammar import split_corpus

    splits = {}
    for split, fname in (("train", "train.txt"), ("validation", "val.txt")):
        path = cert_dir / fname
        if not path.is_file():
            raise InputError.one(str(path), "missing: run `prover-data export-certificates NAME` first")
        texts = split_corpus(path.read_text(encoding="utf-8"))
        splits[split] = pa.table({"text": pa.array(texts, pa.string())})
    return ExportConfig("certificates", "proof certificates (@T/@G/@C/@P lines) for the character-level GPT", splits)


def _embeddings_config(dense) -> ExportConfig:
    """A dense store export as (state_hash, embedding[dim]) rows, in its stored float type."""
    import numpy as np

    from prover_data.embeddings.store.keys import to_arrow

    raw = dense.raw()
    if dense.dtype == "bfloat16":  # Arrow has no bfloat16: widen exactly to float32
        values = (raw.astype(np.uint32) << 16).view(np.float32)
        arrow_type = pa.float32()
    else:
        values = np.asarray(raw)
        arrow_type = pa.from_numpy_dtype(values.dtype)
    flat = pa.array(values.reshape(-1), type=arrow_type)
    table = pa.table({
        "state_hash": to_arrow(dense.hashes),
        "embedding": pa.FixedSizeListArray.from_arrays(flat, dense.dim),
    })
    tags = {"dtype": dense.dtype, "dim": dense.dim, "version": dense.version, "encoder": dense.encoder}
    return ExportConfig("embeddings", "state embeddings of one embedding-store version", {"train": table}, tags)


def write(configs: list[ExportConfig], out: Path, *, build: Build, progress=None) -> ExportResult:
    """Write the Hub layout and card into ``out``, atomically."""
    out = Path(out)
    lock = build.lock
    report = build.report.read_text(encoding="utf-8")
    sizes: dict[str, dict[str, int]] = {}
    nbytes: dict[str, dict[str, tuple[int, int]]] = {}  # config -> split -> (in memory, on disk)
    task = progress.add_task("export", total=sum(len(c.splits) for c in configs)) if progress else None
    with atomic_dir(out) as tmp:
        for config in configs:
            sizes[config.name], nbytes[config.name] = {}, {}
            for split, table in config.splits.items():
                paths = _write_shards(table, tmp / "data" / config.name, split)
                sizes[config.name][split] = table.num_rows
                nbytes[config.name][split] = (table.nbytes, sum(p.stat().st_size for p in paths))
                if progress:
                    progress.advance(task)
        (tmp / "README.md").write_text(card(configs, sizes, nbytes, lock, report), encoding="utf-8")
    return ExportResult(out, sizes)


def _write_shards(table: pa.Table, directory: Path, split: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    n = max(1, -(-table.num_rows // SHARD_ROWS))
    paths = []
    for i in range(n):
        path = directory / f"{split}-{i:05d}-of-{n:05d}.parquet"
        pq.write_table(table.slice(i * SHARD_ROWS, SHARD_ROWS), path, row_group_size=ROW_GROUP, **PARQUET_OPTIONS)
        paths.append(path)
    return paths


def card(configs: list[ExportConfig], sizes: dict[str, dict[str, int]],
         nbytes: dict[str, dict[str, tuple[int, int]]], lock: Lock, report: str) -> str:
    """The dataset card: YAML metadata the Hub and ``datasets`` read, then the evidence."""
    import yaml
    from datasets import Features

    name = lock.manifest["name"]
    total = sum(n for splits in sizes.values() for n in splits.values())
    meta = {
        "license": "apache-2.0",
        "pretty_name": f"prover-data {name}",
        "language": ["en"],
        "tags": ["lean4", "theorem-proving", "formal-mathematics", "expert-iteration", "prover-data"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(total)],
        "configs": [
            {"config_name": c.name,
             "data_files": [{"split": s, "path": f"data/{c.name}/{s}-*.parquet"} for s in c.splits]}
            for c in configs
        ],
        "dataset_info": [
            {"config_name": c.name,
             "features": Features.from_arrow_schema(next(iter(c.splits.values())).schema)._to_yaml_list(),
             "splits": [{"name": s, "num_bytes": nbytes[c.name][s][0], "num_examples": sizes[c.name][s]}
                        for s in c.splits],
             "download_size": sum(b[1] for b in nbytes[c.name].values()),
             "dataset_size": sum(b[0] for b in nbytes[c.name].values())}
            for c in configs
        ],
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    body = [f"# prover-data `{name}`", "",
            "Training data of one expert-iteration round for a Lean 4 prover, built by prover-data "
            "from proof-search trajectories with versioned, leak-free SQL views. Every number below "
            "comes from the build that wrote these files.", "",
            "## Configs", "", "| config | split | rows | contents |", "|---|---|---|---|"]
    for c in configs:
        for s in c.splits:
            body.append(f"| `{c.name}` | {s} | {sizes[c.name][s]:,} | {c.description} |")
    tagged = [c for c in configs if c.tags]
    for c in tagged:
        body += ["", f"`{c.name}` tags: " + ", ".join(f"{k} = `{json.dumps(v, sort_keys=True)}`" for k, v in c.tags.items())]
    body += ["", "```python", "from datasets import load_dataset", 'sft = load_dataset("<repo or path>", "sft")', "```", ""]
    body += ["## Build report", "", _demote(report), ""]
    body += ["## Provenance (lock)", "",
             f"Manifest `{lock.manifest['file']}` (content hash `{lock.manifest['hash']}`).", "",
             "| input | role | bytes | rows | content hash |", "|---|---|---|---|---|"]
    for e in lock.inputs:
        body.append(f"| `{e.path}` | {e.role} | {e.size:,} | {_count(e.rows)} | `{e.hash}` |")
    body += ["", "| output | rows | content hash |", "|---|---|---|"]
    for _, o in sorted(lock.outputs.items()):
        body.append(f"| `{o['file']}` | {_count(o.get('rows'))} | `{o['hash']}` |")
    body += ["", "SQL files: " + ", ".join(f"`{k}` `{v}`" for k, v in sorted(lock.sql.items())), "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(lock.versions.items())), "",
             "## Rebuild", "", "```bash",
             f"prover-data build-manifest {name} --data-root <inputs>   # same inputs => same lock",
             f"prover-data export-hf {name} <out>",
             "```", ""]
    return f"---\n{front}---\n\n" + "\n".join(body)


def _count(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def _demote(markdown: str) -> str:
    """Nest the report's headings under the card's own."""
    return re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", markdown, flags=re.M).rstrip()


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def push(out: Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload an exported folder to the Hub as a dataset repo; return its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(out),
                               commit_message=f"prover-data export of {Path(out).name}")
    return getattr(commit, "commit_url", f"https://huggingface.co/datasets/{repo_id}")
