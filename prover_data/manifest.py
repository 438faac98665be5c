"""An iteration's datasets, declared in TOML and read into frozen dataclasses.

A manifest (``manifests/NAME.toml``) says which inputs make an iteration's data and
how: trajectory files in order, base tactic pairs, theorem index and held-out lists,
filters, the train/val split, the contrastive sampler, the embedding store, eval sets
and the trainers' hyper-parameters. Everything downstream reads this one object.

Reading is strict because a silently ignored typo (``val_fracton = 0.2``) costs a
training run: every key must be a field below, every value must have the field's
type, and every named file must exist. Problems name the manifest file and the
dotted key. All problems are collected and reported together.

Paths in ``[sources]`` are relative to the *data root*, chosen in this order:
``--data-root``, ``$PROVER_DATA_ROOT``, the manifest's ``data_root`` (relative to the
manifest file), the manifest's own directory. A manifest shipped with prover-data
(``bundled_root``) writes its embedding store under the working directory.
"""

from __future__ import annotations

import dataclasses
import glob as globlib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args, get_origin

from prover_data.errors import InputError, Problem
from prover_data.identity import file_digest
# The [train.*] tables, in a module of their own; read, and importable, from here as before.
from prover_data.trainer_settings import CharGPTTrainer, DPOTrainer, EBMTrainer, GPTConfig, SFTTrainer, Train  # noqa: F401

MANIFEST_DIR_ENV = "PROVER_DATA_MANIFESTS"
DATA_ROOT_ENV = "PROVER_DATA_ROOT"


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class BasePairs:
    """Base (state, tactic) pairs, e.g. Mathlib tactics traced by LeanDojo."""

    path: str
    format: Literal["leandojo"] = "leandojo"
    subsample: int | None = None  # pairs kept in sft_train; None keeps all
    seed: int = 42


@dataclass(frozen=True)
class Sources:
    trajectories: tuple[str, ...]  # in order; globs expand sorted, in place
    base_pairs: BasePairs | None = None
    theorem_index: str | None = None
    held_out: dict[str, str] = field(default_factory=dict)  # list name -> theorem-list JSON
    search_config: str | None = None  # the search config the trajectories came from
    # A file holding more than one search of a theorem (a resumed run appended, a merged
    # harvest): each root row of a theorem (null parent, depth 0) starts a new search of
    # it in that file, its rows following it. "refuse" refuses what is then ambiguous, a
    # state_id that a later search repeats (searches that restart their ids);
    # "split_at_roots" reads such files too, every id within its own search.
    repeated_searches: Literal["refuse", "split_at_roots"] = "refuse"


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class Filters:
    # "parent": (parent's state, tactic) -- the state the tactic was applied to.
    # "burnqed_compat": the row's own (state, tactic), as BurnQED's train_llm.py pairs them.
    pairing: Literal["parent", "burnqed_compat"] = "parent"
    # Sources (file stems) whose records hold the tactic applied AT the row's state, as
    # BurnQED's generate-negatives writes them; "parent" pairing uses their own state.
    own_state_sources: tuple[str, ...] = ()
    drop_empty: bool = True
    drop_sorry: bool = True
    dedup: bool = True  # (state, tactic) pairs, first occurrence in manifest order wins


@dataclass(frozen=True)
class Labels:
    # Whose labels the datasets are built from. "tree": a node is positive when the
    # search tree proves it (a completed node, or a parent of a provable node) or the
    # file says positive; remaining_depth is the distance to the nearest proof below
    # (sql/02_trajectories.sql). BurnQED's writer labels only the first proof of a
    # search positive, so "file" (its labels as written) calls the other proofs'
    # states negative.
    source: Literal["tree", "file"] = "tree"


@dataclass(frozen=True)
class Preferences:
    # The rejected tactics of a pair: "any" child that holds no proof (as BurnQED's own
    # count of DPO pairs at branch points), or only "expanded" ones, searched further
    # and still without a proof.
    rejected: Literal["any", "expanded"] = "any"
    max_per_parent: int = 0  # pairs kept per state; 0 keeps all, else a seeded choice by content
    seed: int = 42


@dataclass(frozen=True)
class Split:
    unit: Literal["theorem"] = "theorem"
    val_fraction: float = 0.1
    seed: int = 42


@dataclass(frozen=True)
class Contrastive:
    k_negatives: int = 7
    hard_ratio: float = 0.3  # sibling negatives
    medium_ratio: float = 0.4  # same-theorem non-sibling negatives
    easy_ratio: float = 0.3  # any negative, preferably of another theorem
    # Optional tier (faiss, the [embeddings] store): negatives of the split nearest the
    # positive by cosine, drawn from its `embedding_pool` nearest; 0 turns it off.
    embedding_ratio: float = 0.0
    embedding_pool: int = 16
    embedding_index: Literal["flat", "hnsw"] = "flat"  # exact, or approximate for large splits
    seed: int = 42
    rounds: int = 1  # sampling passes over the eligible theorems
    # "file": siblings share (file, theorem, parent_state_id) -- state ids are per search.
    # "theorem": BurnQED's rule, (theorem, parent_state_id) across all files.
    sibling_scope: Literal["file", "theorem"] = "file"
    # "non_empty" drops positives whose state is empty (a completed proof); "all" keeps them.
    positive_states: Literal["non_empty", "all"] = "non_empty"
    # A state whose exact text is a positive record in any trajectory file is provable,
    # whatever search reached it: "exclude" never draws it as a negative (any tier);
    # "keep" draws it when some record of it is negative, as BurnQED does.
    false_negatives: Literal["exclude", "keep"] = "exclude"


@dataclass(frozen=True)
class Embeddings:
    store: str  # store directory, relative to the data root
    encoder: str  # model id or local path
    dtype: Literal["float16", "bfloat16", "float32"]
    revision: str | None = None
    pooling: Literal["mean"] = "mean"
    max_length: int = 2048
    dim: int | None = None
    tag: str | None = None  # store version tag the trainers pin, e.g. "iter_4_fp16"
    batch_size: int = 8
    # Text the encoder reads for a state: "raw" (the state itself) or "deepseek_prover_v2"
    # (BurnQED's DeepSeek-Prover-V2 prompt; see prover_data/embeddings/fingerprint.py).
    prompt: Literal["raw", "deepseek_prover_v2"] = "raw"
    # States a contrastive sample references without a vector: "refuse" stops the export
    # and the EBM trainer; "skip" exports what exists and the trainer drops (or refills)
    # what has none. Override with --missing on embeddings export, train-ebm and probe.
    missing: Literal["refuse", "skip"] = "refuse"


@dataclass(frozen=True)
class EvalSet:
    name: str
    size: int
    seed: int = 42
    pool: str = "theorem_index"  # "theorem_index" or a held_out list name
    exclude_held_out: tuple[str, ...] = ()  # held_out list names to exclude


@dataclass(frozen=True)
class Eval:
    sets: tuple[EvalSet, ...] = ()
    audit: tuple[str, ...] = ()  # held_out lists that must never meet training data


@dataclass(frozen=True)
class Certificates:
    val_fraction: float = 0.1
    seed: int = 42
    stratify_by: Literal["first_tactic", "source"] = "first_tactic"
    include_base_pairs: bool = True
    # "every_step": the goal state before every tactic; "first": the theorem's initial
    # state, then the tactics alone (whole-proof style, several times shorter).
    states: Literal["every_step", "first"] = "every_step"


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Manifest:
    name: str
    sources: Sources
    description: str = ""
    data_root: str | None = None  # as written in the file; see ``root``
    filters: Filters = field(default_factory=Filters)
    labels: Labels = field(default_factory=Labels)
    preferences: Preferences = field(default_factory=Preferences)
    split: Split = field(default_factory=Split)
    contrastive: Contrastive = field(default_factory=Contrastive)
    embeddings: Embeddings | None = None
    eval: Eval = field(default_factory=Eval)
    certificates: Certificates = field(default_factory=Certificates)
    train: Train = field(default_factory=Train)
    # Set by ``load_manifest``, not by the TOML file.
    path: Path = field(default=Path("."), metadata={"internal": True})
    root: Path = field(default=Path("."), metadata={"internal": True})

    # -- resolved inputs -------------------------------------------------------
    def resolve(self, relative: str) -> Path:
        """A ``[sources]`` path as an absolute path under the data root."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.root / p)

    def trajectory_paths(self) -> list[Path]:
        """Trajectory files in manifest order (each glob expanded sorted, in place)."""
        out: list[Path] = []
        for pattern in self.sources.trajectories:
            out.extend(_expand(self.resolve(pattern)))
        return out

    def held_out_paths(self) -> dict[str, Path]:
        return {name: self.resolve(p) for name, p in self.sources.held_out.items()}

    def digest(self) -> str:
        """Content hash of the manifest file itself."""
        return file_digest(self.path)


def _expand(path: Path) -> list[Path]:
    text = str(path)
    if globlib.has_magic(text):
        return [Path(p) for p in sorted(globlib.glob(text))]
    return [path]


# --------------------------------------------------------------------------- loading


def bundled_root() -> Path | None:
    """The tree of the manifests shipped with prover-data: the wheel's copy, or the checkout.

    The wheel holds ``prover_data/_bundled/`` (see pyproject.toml) laid out as the
    checkout is: ``manifests/demo.toml`` beside ``data/sample`` and ``data/burnqed``, so
    a shipped manifest's relative paths mean the same in both.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_bundled", here.parent):
        if (candidate / "manifests").is_dir():
            return candidate
    return None


def find_manifest(name_or_path: str | Path) -> Path:
    """A manifest file from a path, or from a name looked up in ``manifests/``.

    Names are looked up in ``$PROVER_DATA_MANIFESTS``, then ``./manifests``, then among
    the manifests shipped with prover-data (``bundled_root``), so ``build-manifest demo``
    works from any directory after ``pip install``.
    """
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if candidate.is_file():
            return candidate.resolve()
        raise InputError.one(str(candidate), "manifest file not found", check="no_file")
    dirs = [Path(d) for d in os.environ.get(MANIFEST_DIR_ENV, "").split(os.pathsep) if d]
    dirs.append(Path.cwd() / "manifests")
    bundled = bundled_root()
    if bundled is not None and (bundled / "manifests").resolve() not in {d.resolve() for d in dirs}:
        dirs.append(bundled / "manifests")
    for d in dirs:
        p = d / f"{name_or_path}.toml"
        if p.is_file():
            return p.resolve()
    looked = ", ".join(str(d) for d in dirs)
    raise InputError.one(
        str(name_or_path), f"no manifest named '{name_or_path}' (looked for {name_or_path}.toml in {looked})",
        check="no_file",
    )


def load_manifest(
    name_or_path: str | Path, data_root: str | Path | None = None, *, check_files: bool = True
) -> Manifest:
    """Read, type-check and resolve a manifest; raise ``InputError`` listing every problem."""
    path = find_manifest(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InputError.one(str(path), f"not UTF-8 text ({e.reason} at byte {e.start})", check="not_utf8") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError.one(str(path), f"not valid TOML: {e}", check="bad_toml") from None

    problems: list[Problem] = []
    values = _build(Manifest, raw, "", str(path), problems)
    if problems:
        raise InputError(problems)

    root = _data_root(path, values.get("data_root"), data_root)
    manifest = _writes_outside_the_package(Manifest(**values, path=path, root=root))
    problems.extend(_check_values(manifest))
    if check_files and not problems:
        problems.extend(_check_files(manifest))
    if problems:
        raise InputError(problems)
    return manifest


def _writes_outside_the_package(m: Manifest) -> Manifest:
    """A shipped manifest's writable paths land under the working directory, never in the package.

    Shipped manifests are written for a checkout run from its root (``make demo``): the
    demo's embedding store, ``../../build/stores/demo`` from its data root, is
    ``build/stores/demo`` of the working directory there. Installed, the same path would
    point into site-packages. So a writable path of a shipped manifest that resolves
    inside the shipped tree is re-rooted at the working directory, at the same place
    relative to it: from a checkout's root that changes nothing, anywhere else it puts
    the store beside the build (``build/NAME``, relative to the working directory too).
    Inputs stay where they are: they are only read.
    """
    bundled = bundled_root()
    if m.embeddings is None or bundled is None or not m.path.is_relative_to(bundled / "manifests"):
        return m
    store = Path(os.path.normpath(m.resolve(m.embeddings.store)))
    if not store.is_relative_to(bundled):
        return m
    moved = Path.cwd() / store.relative_to(bundled)
    return dataclasses.replace(m, embeddings=dataclasses.replace(m.embeddings, store=str(moved)))


def _data_root(manifest_path: Path, declared: str | None, override: str | Path | None) -> Path:
    if override is not None:
        return Path(override).expanduser().resolve()
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV]).expanduser().resolve()
    if declared is not None:
        return (manifest_path.parent / declared).resolve()
    return manifest_path.parent


def _check_values(m: Manifest) -> list[Problem]:
    f = str(m.path)
    out: list[Problem] = []

    def bad(key: str, message: str) -> None:
        out.append(Problem(f, message, key=key, check="bad_value"))

    if not m.name or not m.name.replace("_", "").replace("-", "").isalnum():
        bad("name", f"expected letters, digits, '_' or '-', got {m.name!r}")
    if not m.sources.trajectories:
        bad("sources.trajectories", "expected at least one trajectory file")
    if not 0.0 < m.split.val_fraction < 1.0:
        bad("split.val_fraction", f"expected a number strictly between 0 and 1, got {m.split.val_fraction}")
    c = m.contrastive
    if c.k_negatives < 1:
        bad("contrastive.k_negatives", f"expected at least 1, got {c.k_negatives}")
    if c.rounds < 1:
        bad("contrastive.rounds", f"expected at least 1, got {c.rounds}")
    ratios = (c.hard_ratio, c.medium_ratio, c.easy_ratio, c.embedding_ratio)
    if any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        bad("contrastive", "hard_ratio + medium_ratio + easy_ratio + embedding_ratio must be non-negative "
                           f"and sum to 1, got {ratios}")
    if c.embedding_pool < 1:
        bad("contrastive.embedding_pool", f"expected at least 1, got {c.embedding_pool}")
    if c.embedding_ratio > 0 and m.embeddings is None:
        bad("contrastive.embedding_ratio", "the embedding tier reads vectors from the store of [embeddings], "
                                           "which this manifest does not declare")
    if m.preferences.max_per_parent < 0:
        bad("preferences.max_per_parent", f"expected a non-negative count (0 keeps all), got {m.preferences.max_per_parent}")
    bp = m.sources.base_pairs
    if bp is not None and bp.subsample is not None and bp.subsample < 0:
        bad("sources.base_pairs.subsample", f"expected a non-negative count, got {bp.subsample}")
    for key, names in (("eval.audit", m.eval.audit),):
        for n in names:
            if n not in m.sources.held_out:
                bad(key, f"'{n}' is not a list in [sources.held_out] (have: {', '.join(m.sources.held_out) or 'none'})")
    seen: set[str] = set()
    for i, s in enumerate(m.eval.sets):
        key = f"eval.sets[{i}]"
        if s.name in seen:
            bad(f"{key}.name", f"eval set '{s.name}' is declared twice")
        seen.add(s.name)
        if s.size < 1:
            bad(f"{key}.size", f"expected at least 1, got {s.size}")
        for n in s.exclude_held_out:
            if n not in m.sources.held_out:
                bad(f"{key}.exclude_held_out", f"'{n}' is not a list in [sources.held_out]")
        if s.pool != "theorem_index" and s.pool not in m.sources.held_out:
            bad(f"{key}.pool", f"expected 'theorem_index' or a [sources.held_out] list, got '{s.pool}'")
        if s.pool == "theorem_index" and m.sources.theorem_index is None:
            bad(f"{key}.pool", "samples from the theorem index, but sources.theorem_index is not set")
    if not 0.0 < m.certificates.val_fraction < 1.0:
        bad("certificates.val_fraction", f"expected a number strictly between 0 and 1, got {m.certificates.val_fraction}")
    g = m.train.chargpt
    if g.d_model % g.n_heads:
        bad("train.chargpt.n_heads", f"d_model {g.d_model} is not divisible by n_heads {g.n_heads}")
    return out


def _check_files(m: Manifest) -> list[Problem]:
    f = str(m.path)
    out: list[Problem] = []
    for i, pattern in enumerate(m.sources.trajectories):
        matches = _expand(m.resolve(pattern))
        if not matches or not all(p.is_file() for p in matches):
            out.append(Problem(f, f"no such file: {m.resolve(pattern)} (data root {m.root})", key=f"sources.trajectories[{i}]",
                               check="no_file"))
    singles = {
        "sources.theorem_index": m.sources.theorem_index,
        "sources.base_pairs.path": m.sources.base_pairs.path if m.sources.base_pairs else None,
        "sources.search_config": m.sources.search_config,
    }
    singles.update({f"sources.held_out.{k}": v for k, v in m.sources.held_out.items()})
    for key, rel in singles.items():
        if rel is not None and not m.resolve(rel).is_file():
            out.append(Problem(f, f"no such file: {m.resolve(rel)} (data root {m.root})", key=key, check="no_file"))
    return out


# --------------------------------------------------------------------------- typed TOML -> dataclass


def _build(cls: type, raw: object, prefix: str, file: str, problems: list[Problem]) -> dict:
    """Check ``raw`` against dataclass ``cls``; return constructor kwargs (possibly partial)."""
    if not isinstance(raw, dict):
        problems.append(Problem(file, f"expected a table, got {_tname(raw)}", key=prefix or "(top level)", check="wrong_type"))
        return {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    out: dict = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            problems.append(Problem(file, f"unknown key (expected one of: {', '.join(fields)})", key=dotted,
                                    check="unknown_key"))
            continue
        ok, converted = _convert(hints[key], value, dotted, file, problems)
        if ok:
            out[key] = converted
    for name, f in fields.items():
        if name not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            dotted = f"{prefix}.{name}" if prefix else name
            problems.append(Problem(file, "required key is missing", key=dotted, check="missing_key"))
    return out


def _convert(tp, value, key: str, file: str, problems: list[Problem]) -> tuple[bool, object]:
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None:
            return True, None
        return _convert(non_none[0], value, key, file, problems)
    if origin is Literal:
        if value in args:
            return True, value
        problems.append(Problem(file, f"expected one of {', '.join(map(repr, args))}, got {value!r}", key=key,
                                check="bad_value"))
        return False, None
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(Problem(file, f"expected a list, got {_tname(value)}", key=key, check="wrong_type"))
            return False, None
        item_tp = args[0]
        items = []
        ok = True
        for i, v in enumerate(value):
            good, conv = _convert(item_tp, v, f"{key}[{i}]", file, problems)
            ok &= good
            items.append(conv)
        return ok, tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(Problem(file, f"expected a table, got {_tname(value)}", key=key, check="wrong_type"))
            return False, None
        ok = True
        out = {}
        for k, v in value.items():
            good, conv = _convert(args[1], v, f"{key}.{k}", file, problems)
            ok &= good
            out[k] = conv
        return ok, out
    if dataclasses.is_dataclass(tp):
        before = len(problems)
        kwargs = _build(tp, value, key, file, problems)
        if len(problems) != before:
            return False, None
        return True, tp(**kwargs)
    if tp is bool:
        if isinstance(value, bool):
            return True, value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return True, value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
    elif tp is str:
        if isinstance(value, str):
            return True, value
    else:  # pragma: no cover - a field type this reader does not know is a bug here
        raise TypeError(f"manifest field {key} has unsupported type {tp}")
    problems.append(Problem(file, f"expected {tp.__name__}, got {_tname(value)} {value!r}", key=key, check="wrong_type"))
    return False, None


def _tname(value: object) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)
