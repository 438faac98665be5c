"""``embeddings ...``: inspect, tag, compare, import, export and search the embedding store.

A TARGET is a manifest NAME (its ``[embeddings]`` store, encoder and dtype, and its
build's states) or the path of a store directory. (``embed``, which fills the store,
is in ``embed.py``.)
"""

from __future__ import annotations

from pathlib import Path

import click

from prover_data.cli.embedding_options import DTYPE_CHOICE, build_root_option, json_option, model_path_option
from prover_data.cli.options import data_root_option, missing_option
from prover_data.console import info, print_json, print_table, progress
from prover_data.errors import InputError, tally_line


class _Target:
    """A store, and the manifest that names it when the TARGET was a manifest NAME."""

    def __init__(self, arg: str, data_root: Path | None, *, create: bool = False):
        from prover_data.embeddings.store import Store
        from prover_data.manifest import load_manifest

        self.manifest = None
        path = Path(arg).expanduser()
        if Store.exists(path):
            self.store = Store.open(path)
            return
        try:
            self.manifest = load_manifest(arg, data_root)
        except InputError as e:
            looks_like_path = "/" in arg or path.exists() or create
            if not looks_like_path or arg.endswith(".toml"):
                raise InputError([*e.problems, *InputError.one(arg, "not an embedding store directory either").problems]) from None
        if self.manifest is not None:
            from prover_data.embeddings.embed import embeddings_section

            emb = embeddings_section(self.manifest)
            self.store = Store.open(self.manifest.resolve(emb.store), create=create)
        else:
            self.store = Store.open(path, create=create)

    @property
    def emb(self):
        return self.manifest.embeddings if self.manifest else None

    def build(self, build_root: Path):
        """The manifest's build under ``build_root`` (a ``build.files.Build``); None for a store path."""
        from prover_data.build.files import Build

        return Build(self.manifest, build_root) if self.manifest is not None else None

    def texts(self, build_root: Path) -> dict[bytes, str]:
        """State text by hash from the manifest's build, when there is one (for naming states)."""
        build = self.build(build_root)
        if build is None or not build.output("states").is_file():
            return {}
        import pyarrow.parquet as pq

        t = pq.read_table(build.output("states"), columns=["state_hash", "state_pp"])
        return dict(zip(t.column("state_hash").to_pylist(), t.column("state_pp").to_pylist()))


def _snippet(text: str | None, n: int = 70) -> str:
    if not text:
        return ""
    one_line = " ".join(text.split())
    return one_line[:n] + ("..." if len(one_line) > n else "")


@click.group("embeddings")
def embeddings() -> None:
    """Inspect and move vectors of the embedding store.

    \b
    Examples:
      prover-data embeddings status demo
      prover-data embeddings list demo
      prover-data embeddings compare iter_4 iter_4_bf16:bfloat16 iter_4_fp16:float16
      prover-data embeddings import iter_4 embeddings_fp16.parquet --dtype float16
      prover-data embeddings export iter_4
      prover-data embeddings neighbors demo --duplicates --threshold 0.99
    """


@embeddings.command("status")
@click.argument("name")
@data_root_option
@build_root_option
@click.option("--ref", default="HEAD", show_default=True, help="Store version or tag to check.")
@model_path_option
@json_option
def status(name: str, data_root: Path | None, build_root: Path, ref: str, model_path: str | None, as_json: bool) -> None:
    """How many of build NAME's states are stored for the manifest's encoder and dtype.

    Counts the unique states of BUILD_DIR/NAME/states.parquet that have a vector of
    the manifest's encoder (model, weights, pooling, max length, prompt) in its dtype
    at REF; vectors of another dtype do not count. Also lists what the version holds,
    the tags, and work left pending by an interrupted embed.

    \b
    Examples:
      prover-data embeddings status demo
      prover-data embeddings status iter_4 --ref iter_4_fp16 --json | jq .coverage.missing
    """
    from prover_data.build.files import Build
    from prover_data.embeddings.coverage import coverage
    from prover_data.embeddings.embed import embeddings_section
    from prover_data.embeddings.manifest_encoder import manifest_encoder
    from prover_data.embeddings.states import read_states
    from prover_data.embeddings.store import Store
    from prover_data.manifest import load_manifest

    manifest = load_manifest(name, data_root)
    emb = embeddings_section(manifest)
    store_path = manifest.resolve(emb.store)
    states = read_states(Build(manifest, build_root), columns=("state_hash",))
    spec = manifest_encoder(manifest, model_path=model_path)
    cov = coverage(store_path, emb, states.column("state_hash"), ref=ref, encoder=spec)
    spaces, tags, pending = [], {}, []
    if Store.exists(store_path):
        store = Store.open(store_path)
        spaces = [s.summary() for s in store.spaces(store.resolve(ref))]
        tags = store.tags()
        pending = [{"writer": w, "running": alive, "rows": seg.rows, "dtype": seg.dtype, "encoder_id": seg.encoder_id}
                   for w, alive, seg in store.pending()]
    doc = {"name": manifest.name, "store": str(store_path), "ref": ref, "coverage": cov.as_dict(),
           "encoder_id": spec.id, "spaces": spaces, "tags": tags, "pending": pending}
    if as_json:
        print_json(doc)
        return
    share = cov.missing / cov.total if cov.total else 0.0
    print_table(f"Embeddings of {manifest.name}: {spec.describe()} {emb.dtype}", ["states", "count"], [
        ("unique states", cov.total), ("cached", cov.cached), ("missing", f"{cov.missing:,} (~{share:.2%})")])
    info(f"store {store_path}, version {cov.version or '(empty)'}"
         + (f", dim {cov.dim}" if cov.dim else ""))
    if spaces:
        print_table("Vectors in this version", ["encoder", "model", "dtype", "dim", "vectors", "segments"],
                    [(s["encoder_id"], s["encoder"]["model"], s["dtype"], s["dim"], s["rows"], s["segments"]) for s in spaces])
    if tags:
        info("tags: " + ", ".join(f"{k} -> {v}" for k, v in tags.items()))
    if pending:
        rows = sum(p["rows"] for p in pending if not p["running"])
        if rows:
            info(f"{rows:,} vectors from an interrupted run are pending; the next embed with that encoder and dtype "
                 "commits them")
    if cov.missing:
        info(f"encode them: prover-data embed {manifest.name}")


@embeddings.command("list")
@click.argument("target")
@data_root_option
@json_option
def list_versions(target: str, data_root: Path | None, as_json: bool) -> None:
    """List the versions and tags of a store (TARGET: manifest NAME or store path).

    \b
    Examples:
      prover-data embeddings list demo
      prover-data embeddings list /data/embeddings/store --json
    """
    t = _Target(target, data_root)
    store = t.store
    tags_by_version: dict[str, list[str]] = {}
    for name, vid in store.tags().items():
        tags_by_version.setdefault(vid, []).append(name)
    head = store.head_id()
    rows = []
    for v in store.versions():
        added = sum(store.segment(s).rows for s in v.added)
        spaces = sorted({f"{store.segment(s).encoder.model} {store.segment(s).dtype}" for s in v.segments})
        rows.append({"number": v.number, "id": v.id, "parent": v.parent, "added": added, "segments": len(v.segments),
                     "spaces": spaces, "tags": tags_by_version.get(v.id, []), "head": v.id == head, "message": v.message})
    if as_json:
        print_json({"store": str(store.path), "head": head, "tags": store.tags(), "versions": rows})
        return
    print_table(f"Store {store.path}", ["#", "version", "added", "tags", "vectors of", "message"],
                [(r["number"], r["id"] + (" (HEAD)" if r["head"] else ""), r["added"], ", ".join(r["tags"]),
                  "; ".join(r["spaces"]), r["message"]) for r in rows])


@embeddings.command("tag")
@click.argument("target")
@click.argument("tag")
@click.argument("ref", default="HEAD")
@data_root_option
@click.option("--force", is_flag=True, help="Move the tag even to a version that does not descend from its current one.")
@json_option
def tag(target: str, tag: str, ref: str, data_root: Path | None, force: bool, as_json: bool) -> None:
    """Name store version REF (default HEAD) TAG; trainers pin tags.

    A tag moves only forward (to a descendant, whose vectors are a superset) unless
    --force.

    \b
    Examples:
      prover-data embeddings tag iter_4 iter_4_fp16
      prover-data embeddings tag /data/store iter_4_bf16 3f2a9c1e --force
    """
    t = _Target(target, data_root)
    old, new = t.store.set_tag(tag, ref, force=force)
    if as_json:
        print_json({"tag": tag, "old": old, "new": new})
    else:
        info(f"tag {tag}: {old or '(new)'} -> {new}")


@embeddings.command("compare")
@click.argument("target")
@click.argument("a")
@click.argument("b")
@data_root_option
@build_root_option
@click.option("--threshold", type=click.FloatRange(-1.0, 1.0), default=0.99, show_default=True,
              help="Count states whose cosine is below this.")
@click.option("--worst", type=click.IntRange(min=0), default=10, show_default=True, help="Lowest-cosine states to list.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a histogram of the per-state cosines (PNG).")
@json_option
def compare(target: str, a: str, b: str, data_root: Path | None, build_root: Path, threshold: float, worst: int,
            plot_path: Path | None, as_json: bool) -> None:
    """Per-state cosine between two sets of vectors of the same states (drift check).

    A and B are REF[:DTYPE[:ENCODER]]: a version id, tag or HEAD, and, when the
    version holds several, the dtype and encoder (id or model). Prints mean, p1, p5,
    median and min cosine over the states both hold, and how many are below
    --threshold. Re-encodings in one dtype agree to ~0.999+; the report's bf16 vectors
    served to an fp16 search agreed to 0.945.

    \b
    Examples:
      prover-data embeddings compare iter_4 HEAD:bfloat16 HEAD:float16
      prover-data embeddings compare demo demo_fp32 HEAD:float16 --plot drift.png
      prover-data embeddings compare /data/store 3f2a9c1e 8b7d0e44 --json
    """
    from prover_data.embeddings import drift

    t = _Target(target, data_root)
    summary, _ = drift.compare(t.store, a, b, threshold=threshold, worst=worst)
    texts = t.texts(build_root)
    for w in summary.worst:
        text = texts.get(bytes.fromhex(w["state_hash"]))
        if text is not None:
            w["state"] = _snippet(text, 120)
    if plot_path is not None and summary.common:
        drift.plot(summary, plot_path)
    if as_json:
        print_json(summary.as_dict())
        return
    fmt = lambda x: "-" if x is None else f"{x:.6f}"  # noqa: E731
    print_table(f"cosine({a}, {b})", ["measure", "value"], [
        ("states in both", summary.common), ("only in A", summary.only_a), ("only in B", summary.only_b),
        ("mean", fmt(summary.mean)), ("p1", fmt(summary.p1)), ("p5", fmt(summary.p5)),
        ("median", fmt(summary.median)), ("min", fmt(summary.min)),
        (f"below {threshold}", summary.below)])
    if summary.worst:
        print_table("Lowest cosines", ["state hash", "cosine", "state"],
                    [(w["state_hash"], f"{w['cosine']:.6f}", w.get("state", "")) for w in summary.worst])
    if plot_path is not None and summary.common:
        info(f"wrote {plot_path}")


DROPPED_SHOWN = 20  # dropped rows named one by one; the rest are counted by rule


@embeddings.command("import")
@click.argument("target")
@click.argument("parquet", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--dtype", type=DTYPE_CHOICE, required=True,
              help="The precision the vectors were computed in (BurnQED's files do not say; you must).")
@click.option("--encoder", default=None, help="Model id or path that made them (default: the manifest's).")
@click.option("--revision", default=None, help="Model revision (Hugging Face commit), if known.")
@click.option("--weights", default=None, help="Weights digest (xxh3_128:...), if known; default: computed when the model is here.")
@click.option("--max-length", type=click.IntRange(min=1), default=None, help="Tokens the encoder kept (default: the manifest's, else 2048).")
@click.option("--prompt", type=click.Choice(["raw", "deepseek_prover_v2"]), default=None,
              help="Text format that was encoded (default: the manifest's; BurnQED: deepseek_prover_v2).")
@click.option("--tag", "tag_name", default=None, help="Tag the new version.")
@click.option("--drop-invalid", is_flag=True, help="Drop zero/NaN/Inf vectors (listed) instead of refusing the file.")
@data_root_option
@json_option
def import_(target: str, parquet: Path, dtype: str, encoder: str | None, revision: str | None, weights: str | None,
            max_length: int | None, prompt: str | None, tag_name: str | None, drop_invalid: bool,
            data_root: Path | None, as_json: bool) -> None:
    """Import a BurnQED embeddings.parquet (state_pp, embedding list<double>).

    The vectors are stored in --dtype (2 bytes a value for float16/bfloat16, not 8),
    keyed by the hash of state_pp, tagged with the encoder fingerprint (from the
    manifest when TARGET is a manifest NAME, else from --encoder/--prompt/...). States
    the store already holds for that encoder and dtype are skipped. A new store is
    created when TARGET is a path that does not exist yet.

    \b
    Examples:
      prover-data embeddings import iter_4 checkpoints/ebm/iter_4/embeddings_fp16.parquet --dtype float16
      prover-data embeddings import iter_4 checkpoints/ebm/iter_4/embeddings.parquet --dtype bfloat16 --tag iter_4_bf16
      prover-data embeddings import ./store emb.parquet --dtype float16 \\
          --encoder deepseek-ai/DeepSeek-Prover-V2-7B --prompt deepseek_prover_v2
    """
    from prover_data.embeddings.burnqed_import import import_burnqed
    from prover_data.embeddings.fingerprint import EncoderSpec
    from prover_data.embeddings.manifest_encoder import manifest_encoder

    t = _Target(target, data_root, create=True)
    emb = t.emb
    if emb is not None and encoder in (None, emb.encoder) and revision is None and weights is None:
        spec = manifest_encoder(t.manifest, t.store)
        spec = EncoderSpec(spec.model, spec.revision, spec.weights, spec.pooling,
                           max_length or spec.max_length, prompt or spec.prompt)
    else:
        if encoder is None and emb is None:
            raise InputError.one("--encoder", "which model made these vectors? pass --encoder (a store path has no manifest)")
        spec = EncoderSpec(model=encoder or emb.encoder, revision=revision, weights=weights, pooling="mean",
                           max_length=max_length or (emb.max_length if emb else 2048),
                           prompt=prompt or (emb.prompt if emb else "raw"))
    with progress(quiet=as_json) as bar:
        result = import_burnqed(t.store, parquet, encoder=spec, dtype=dtype, tag=tag_name, drop_invalid=drop_invalid,
                                expected_dim=emb.dim if emb else None, progress=bar)
    if as_json:
        print_json(result.as_dict())
        return
    for p in result.problems[:DROPPED_SHOWN]:
        click.secho(f"dropped: {p}", err=True, fg="yellow")
    if result.dropped > DROPPED_SHOWN:
        click.secho(f"dropped: ... and {result.dropped - DROPPED_SHOWN:,} more rows not shown; in all: "
                    f"{tally_line(result.dropped_by_rule)}", err=True, fg="yellow")
    print_table(f"import {parquet.name} as {dtype} ({spec.describe()})", ["rows", "count"], [
        ("rows in file", result.rows), ("imported", result.imported),
        ("already stored (or repeated)", result.already_present), ("dropped as invalid", result.dropped)])
    info(f"store {t.store.path}: version {result.version}" + (f", tag {tag_name}" if tag_name else ""))


@embeddings.command("export")
@click.argument("target")
@click.option("--ref", default=None, help="Version or tag (default: the manifest's tag if it exists, else HEAD).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory (default for a manifest: BUILD_DIR/NAME/embeddings).")
@click.option("--dtype", type=DTYPE_CHOICE, default=None, help="Choose the vectors of this dtype (default: the manifest's).")
@click.option("--encoder", default=None, help="Choose the vectors of this encoder (id or model) when the version holds several.")
@click.option("--cast", type=DTYPE_CHOICE, default=None, help="Convert the chosen vectors to this dtype, on purpose.")
@click.option("--all", "all_states", is_flag=True, help="Export every vector of the space, not just the build's states.")
@missing_option
@data_root_option
@build_root_option
@json_option
def export(target: str, ref: str | None, out_dir: Path | None, dtype: str | None, encoder: str | None, cast: str | None,
           all_states: bool, missing: str | None, data_root: Path | None, build_root: Path, as_json: bool) -> None:
    """Write a dense, memory-mapped matrix of one store version's vectors for trainers.

    The directory holds vectors.npy ([n, dim], stored dtype), hashes.npy (sorted
    state hashes, one per row) and meta.json (dtype, dim, encoder fingerprint, store
    version). For a manifest NAME it exports the vectors of the build's states, for
    the manifest's encoder and dtype. Only the states its contrastive samples
    reference must have one (never the empty state): without a vector they stop the
    export, naming them, unless --missing skip (or [embeddings] missing = "skip"),
    which lists them in missing.parquet for the EBM loader to drop or refill. A
    version mixing dtypes or encoders needs --dtype / --encoder (or --cast).

    \b
    Examples:
      prover-data embeddings export iter_4                    # -> build/iter_4/embeddings
      prover-data embeddings export iter_4 --ref iter_4_fp16 --out /scratch/iter_4_fp16
      prover-data embeddings export /data/store --ref 3f2a9c1e --dtype float16 --out dense/
      prover-data embeddings export iter_4 --missing skip     # zero vectors dropped at import
    """
    from prover_data.embeddings.dense import DenseEmbeddings, export_dense, export_for_build

    t = _Target(target, data_root)
    with progress(quiet=as_json) as bar:
        if t.manifest is not None and not all_states and dtype in (None, t.emb.dtype) and encoder is None:
            out = export_for_build(t.build(build_root), out_dir, ref=ref, cast=cast, missing=missing,
                                   progress=bar)
        else:
            if out_dir is None:
                if t.manifest is None:
                    raise InputError.one("--out", "where to? pass --out DIR when TARGET is a store path")
                out_dir = t.build(build_root).embeddings
            if ref is None and t.emb is not None and t.emb.tag in t.store.tags():
                ref = t.emb.tag
            hashes = None
            if t.manifest is not None and not all_states:
                from prover_data.embeddings.states import read_states

                hashes = read_states(t.build(build_root), columns=("state_hash",)).column("state_hash")
            out = export_dense(t.store.path, ref, out_dir, hashes=hashes, dtype=dtype or (t.emb.dtype if t.emb else None),
                               encoder=encoder, cast=cast, progress=bar)
    dense = DenseEmbeddings.open(out)
    doc = {"out": str(out), "rows": len(dense), "dim": dense.dim, "dtype": dense.dtype, "version": dense.version,
           "encoder": dense.encoder, "bytes": (out / "vectors.npy").stat().st_size,
           "missing": dense.meta.get("missing", 0)}
    if as_json:
        print_json(doc)
    else:
        info(f"wrote {out}: {len(dense):,} x {dense.dim} {dense.dtype} from version {dense.version}")
        if doc["missing"]:
            info(f"{doc['missing']:,} states the samples reference have no vector: listed in "
                 f"{out / 'missing.parquet'}; train-ebm --missing skip drops or refills what needs them")


@embeddings.command("neighbors")
@click.argument("target")
@click.option("--ref", default=None, help="Version or tag (default: the manifest's tag if it exists, else HEAD).")
@click.option("--dtype", type=DTYPE_CHOICE, default=None, help="Which vectors (default: the manifest's dtype).")
@click.option("--encoder", default=None, help="Which encoder (id or model) when the version holds several.")
@click.option("--query", "queries", multiple=True, help="State text to find neighbours of (repeatable).")
@click.option("--query-hash", "query_hashes", multiple=True, help="State hash (hex) to find neighbours of (repeatable).")
@click.option("--duplicates", is_flag=True, help="List pairs of states with cosine >= --threshold.")
@click.option("--hard-negatives", is_flag=True,
              help="For each positive state of the build, the -k nearest negative states (needs a manifest NAME and --out).")
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="Neighbours per state.")
@click.option("--threshold", type=click.FloatRange(-1.0, 1.0), default=0.995, show_default=True,
              help="--duplicates: minimum cosine.")
@click.option("--index", "kind", type=click.Choice(["flat", "hnsw"]), default="flat", show_default=True,
              help="flat: exact; hnsw: approximate, for hundreds of thousands of states.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the pairs (--duplicates) or negatives (--hard-negatives) to this parquet file.")
@data_root_option
@build_root_option
@json_option
def neighbors(target: str, ref: str | None, dtype: str | None, encoder: str | None, queries: tuple[str, ...],
              query_hashes: tuple[str, ...], duplicates: bool, hard_negatives: bool, k: int, threshold: float, kind: str,
              out_path: Path | None, data_root: Path | None, build_root: Path, as_json: bool) -> None:
    """Nearest states by cosine (faiss): look-ups, near-duplicates, hard negatives.

    \b
    Examples:
      prover-data embeddings neighbors demo --query "n : ℕ\\n⊢ n + 0 = n" -k 5
      prover-data embeddings neighbors demo --duplicates --threshold 0.995 --out dups.parquet
      prover-data embeddings neighbors iter_4 --hard-negatives -k 7 --index hnsw --out hard.parquet
    """
    modes = sum([bool(queries or query_hashes), duplicates, hard_negatives])
    if modes != 1:
        raise InputError.one("neighbors", "choose one of --query/--query-hash, --duplicates, --hard-negatives")
    t = _Target(target, data_root)
    space = _space(t, ref, dtype, encoder)
    texts = t.texts(build_root)
    if duplicates:
        _near_duplicates(space, texts, threshold=threshold, k=k, kind=kind, out_path=out_path, as_json=as_json)
    elif hard_negatives:
        _hard_negatives(t, space, build_root, k=k, kind=kind, out_path=out_path, as_json=as_json)
    else:
        _nearest(space, texts, queries, query_hashes, k=k, kind=kind, as_json=as_json)


def _write_parquet(table, out_path: Path) -> None:
    import pyarrow.parquet as pq

    from prover_data.atomic import atomic_file

    with atomic_file(out_path) as f:
        pq.write_table(table, f)


def _near_duplicates(space, texts: dict[bytes, str], *, threshold: float, k: int, kind: str, out_path: Path | None,
                     as_json: bool) -> None:
    """``neighbors --duplicates``: the pairs, written to ``out_path`` and shown (the first 30, or 100 as JSON)."""
    from prover_data.embeddings import neighbors as nb

    pairs = nb.near_duplicates(space, threshold=threshold, k=k, kind=kind)
    if out_path is not None:
        _write_parquet(pairs, out_path)
    rows = [{"a": a.hex(), "b": b.hex(), "cosine": float(c), "a_state": _snippet(texts.get(a)),
             "b_state": _snippet(texts.get(b))}
            for a, b, c in zip(pairs.column("a_hash").to_pylist(), pairs.column("b_hash").to_pylist(),
                               pairs.column("cosine").to_pylist())]
    if as_json:
        print_json({"pairs": len(rows), "threshold": threshold, "top": rows[:100]})
    else:
        print_table(f"{len(rows):,} near-duplicate pairs (cosine >= {threshold}) among {len(space):,} states",
                    ["cosine", "state A", "state B"], [(f"{r['cosine']:.5f}", r["a_state"] or r["a"], r["b_state"] or r["b"])
                                                       for r in rows[:30]])


def _hard_negatives(t: _Target, space, build_root: Path, *, k: int, kind: str, out_path: Path | None,
                    as_json: bool) -> None:
    """``neighbors --hard-negatives``: the nearest negatives of the build's positives, written to ``out_path``."""
    from prover_data.embeddings import neighbors as nb
    from prover_data.embeddings.states import read_states

    if t.manifest is None or out_path is None:
        raise InputError.one("--hard-negatives", "needs a manifest NAME (its build's positive and negative states) and --out")
    st = read_states(t.build(build_root), columns=("state_hash", "n_positive", "n_negative"))
    found = nb.build_hard_negatives(space, st, k=k, kind=kind)
    _write_parquet(found.table, out_path)
    doc = {"out": str(out_path), "anchors": found.anchors, "pool": found.pool, "k": found.k,
           "mean_cosine": found.mean_cosine}
    if as_json:
        print_json(doc)
    else:
        info(f"wrote {out_path}: {found.anchors:,} positives x {doc['k']} nearest of {found.pool:,} negatives"
             + (f" (mean cosine {doc['mean_cosine']:.4f})" if doc["mean_cosine"] is not None else ""))


def _nearest(space, texts: dict[bytes, str], queries: tuple[str, ...], query_hashes: tuple[str, ...], *, k: int,
             kind: str, as_json: bool) -> None:
    """``neighbors --query/--query-hash``: the nearest states of each query state."""
    import numpy as np

    from prover_data.embeddings import neighbors as nb
    from prover_data.embeddings.store.keys import hash_states, hex_of

    qkeys = [hash_states([q])[0] for q in queries] + [_hex_key(h) for h in query_hashes]
    qkeys = np.stack(qkeys)
    qrows = space.rows(qkeys)
    hashes = space.hashes
    results = []
    for key, hits in zip(qkeys, nb.nearest(space, qrows, k=k, kind=kind)):
        results.append({"query": hex_of(key), "neighbors": [
            {"state_hash": hex_of(hashes[i]), "cosine": s, "state": _snippet(texts.get(bytes(hashes[i])), 120)}
            for i, s in hits]})
    if as_json:
        print_json({"results": results})
        return
    for r in results:
        print_table(f"nearest to {r['query']}", ["cosine", "state hash", "state"],
                    [(f"{n['cosine']:.5f}", n["state_hash"], n["state"]) for n in r["neighbors"]])


def _hex_key(text: str):
    import numpy as np

    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise InputError.one("--query-hash", f"expected 32 hex digits, got '{text}'")
    return np.frombuffer(raw, np.uint8)


def _space(t: _Target, ref: str | None, dtype: str | None, encoder: str | None):
    """The one space a command works on: explicit choices, else the manifest's encoder and dtype."""
    from prover_data.embeddings.manifest_encoder import manifest_encoder

    store = t.store
    if ref is None:
        ref = t.emb.tag if t.emb is not None and t.emb.tag in store.tags() else "HEAD"
    version = store.resolve(ref)
    if encoder is None and t.emb is not None:
        encoder = manifest_encoder(t.manifest, store)
    dtype = dtype or (t.emb.dtype if t.emb is not None else None)
    spaces = store.select(version, encoder=encoder, dtype=dtype)
    if len(spaces) != 1:
        listing = "; ".join(f"{s.encoder.model} [{s.encoder_id}] {s.dtype}: {len(s):,}" for s in store.spaces(version))
        raise InputError.one(str(store.path), f"{'no' if not spaces else len(spaces)} matching set(s) of vectors in version "
                                              f"{version.id if version else '(empty)'} (it holds: {listing or 'nothing'}); "
                                              "choose with --dtype / --encoder")
    return spaces[0]
