"""torch Datasets over build outputs: one small class per output file.

Trainers read a build through these adapters, never through raw parquet, so each
output's contract (the columns and types in ``prover_data.schema``) is checked in one
place and a missing or malformed file stops training with the file and column named.

Every adapter puts its rows in a canonical order keyed by content on load, and samples
subsets by content hash (``prover_data.identity.split_bucket``): a trainer's batches
and eval subsets depend on what a file holds, never on the order it was written in.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from prover_data.errors import InputError, Problem
from prover_data.identity import split_bucket
from prover_data.prompts import format_prompt
from prover_data.schema import CONTRASTIVE, CONTRASTIVE_POOLS, SFT_PAIRS
from prover_models.missing_vectors import resolve

IGNORE_INDEX = -100  # label of a token that carries no loss (torch cross_entropy's default)


def _read_checked(path: str | Path, schema: pa.Schema, made_by: str) -> pa.Table:
    """Read a build output and check it against its schema; every problem in one error."""
    name = str(path)
    if not Path(path).is_file():
        raise InputError.one(name, f"no such file (it is written by {made_by})")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError.one(name, f"not a readable parquet file: {e}") from None
    problems = []
    for want in schema:
        if want.name not in table.schema.names:
            problems.append(Problem(name, f"missing column (expected {want.type})", column=want.name))
            continue
        got = table.schema.field(want.name).type
        if not _compatible(got, want.type):
            problems.append(Problem(name, f"expected {want.type}, found {got}", column=want.name))
            continue
        nulls = table.column(want.name).null_count
        if nulls and not want.nullable:
            first = table.column(want.name).is_null().to_pylist().index(True)
            problems.append(Problem(name, "null value", row=first, column=want.name, count=nulls))
    if problems:
        raise InputError(problems)
    return table.select(schema.names)


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got) or pa.types.is_string_view(got)
    if pa.types.is_integer(want):
        return pa.types.is_integer(got)
    return got == want


# --------------------------------------------------------------------------- SFT pairs

# The prompt (prover_data.prompts, where the build reads it too: the preference pairs
# carry it) is BurnQED's DeepSeek-Prover tactic-state message; the tactic follows it.


def encode_pair(tokenizer, state: str, tactic: str, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids of prompt + tactic, and labels that carry loss on the tactic only.

    Prompt and tactic are tokenized separately and concatenated. BurnQED instead
    tokenizes the whole text and searches it for the token ids of a response template
    ("```\\n"); that search misses whenever BPE merges the template with its
    neighbours, and the pair is then trained on whole, prompt included (only a count
    is logged). Separate tokenization cannot miss: the boundary is a token boundary by
    construction, and the prompt is tokenized as it is when generation starts from it.

    The prompt starts with the tokenizer's BOS token when it has one (the search's
    prompt starts with DeepSeek's BOS). No EOS follows the tactic, as in BurnQED: the
    search stops generation at "\\n\\n" or "```", and the loss covers tactic tokens only.
    Sequences longer than ``max_len`` are cut at the end, as BurnQED's tokenizer call
    does; a pair whose tactic is cut away entirely carries no loss.
    """
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    prompt = bos + tokenizer(format_prompt(state), add_special_tokens=False)["input_ids"]
    completion = tokenizer(tactic, add_special_tokens=False)["input_ids"]
    ids = (prompt + completion)[:max_len]
    labels = ([IGNORE_INDEX] * len(prompt) + completion)[:max_len]
    return ids, labels


class SFTPairs(torch.utils.data.Dataset):
    """``sft_train.parquet`` / ``sft_val.parquet`` (``schema.SFT_PAIRS``) as token ids.

    Rows are ordered by (state_hash, tactic, theorem_name, source). Items are
    tokenized on access: cheap next to a forward pass, and no tokenized copy of the
    whole set sits in memory.
    """

    def __init__(self, path: str | Path, tokenizer, max_seq_len: int):
        table = _read_checked(path, SFT_PAIRS, "prover-data build-manifest NAME")
        table = table.sort_by([("state_hash", "ascending"), ("tactic", "ascending"),
                               ("theorem_name", "ascending"), ("source", "ascending")])
        self.path = Path(path)
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.theorem_name = table.column("theorem_name").to_pylist()
        self.source = table.column("source").to_pylist()
        self.state = table.column("state_pp").to_pylist()
        self.tactic = table.column("tactic").to_pylist()
        self.state_hash = table.column("state_hash").to_pylist()

    def __len__(self) -> int:
        return len(self.state)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        ids, labels = encode_pair(self.tokenizer, self.state[i], self.tactic[i], self.max_seq_len)
        return {"input_ids": ids, "labels": labels}

    @functools.cached_property
    def full_lengths(self) -> np.ndarray:
        """Token count of every pair before the cut at ``max_seq_len``, from one batched tokenization.

        Batching by length needs every length before step 0. The prompt and the tactic are
        tokenized apart, as ``encode_pair`` does, so the counts add up to its exact length.
        """
        bos = int(self.tokenizer.bos_token_id is not None)
        counts = np.empty(len(self), np.int64)
        self._prompt_lengths = np.empty(len(self), np.int64)
        for start in range(0, len(self), 4096):  # bounded lists of ids, whatever the set's size
            stop = min(start + 4096, len(self))
            prompts = self.tokenizer([format_prompt(s) for s in self.state[start:stop]],
                                     add_special_tokens=False)["input_ids"]
            tactics = self.tokenizer(self.tactic[start:stop], add_special_tokens=False)["input_ids"]
            self._prompt_lengths[start:stop] = [bos + len(p) for p in prompts]
            counts[start:stop] = self._prompt_lengths[start:stop] + [len(t) for t in tactics]
        return counts

    @functools.cached_property
    def lengths(self) -> np.ndarray:
        """Token count of every pair as trained: ``full_lengths`` cut at ``max_seq_len``."""
        return np.minimum(self.full_lengths, self.max_seq_len)

    def truncation(self) -> dict[str, int]:
        """Pairs longer than ``max_seq_len`` (cut at the end), and those cut to no tactic token at all."""
        full = self.full_lengths
        return {"truncated": int((full > self.max_seq_len).sum()),
                "without_tactic": int((self._prompt_lengths >= self.max_seq_len).sum())}

    def sample(self, n: int, seed: int) -> list[int]:
        """``n`` row indices chosen by content hash and seed (all rows when n >= len)."""
        if n >= len(self):
            return list(range(len(self)))

        def rank(i: int) -> tuple[float, str]:
            key = self._content_key(i)
            return split_bucket(seed, key), key

        return sorted(sorted(range(len(self)), key=rank)[:n])

    def trajectory_indices(self) -> list[int]:
        """Rows from search trajectories (``source != 'base'``): the report's trajectory eval."""
        return [i for i, s in enumerate(self.source) if s != "base"]

    def _content_key(self, i: int) -> str:
        return "\x1f".join((self.theorem_name[i], self.source[i], self.state_hash[i].hex(), self.tactic[i]))


def pad_sft_batch(examples: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded pairs into input_ids / attention_mask / labels tensors."""
    width = max(len(e["input_ids"]) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e["input_ids"])
        input_ids[row, :n] = torch.tensor(e["input_ids"])
        labels[row, :n] = torch.tensor(e["labels"])
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def pack_sft_batch(examples: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    """Concatenate encoded pairs into one row with no padding: input_ids / position_ids / labels.

    Position ids restart at 0 for each pair. With no attention mask, transformers reads
    the restarts as sequence boundaries (``masking_utils.find_packed_sequence_indices``;
    flash attention's varlen path reads them as ``cu_seqlens``), so no token attends
    across a pair -- when the forward is called with ``use_cache=False``. The first
    label of every pair is ignored, so no pair is asked to predict its neighbour's first
    token.
    """
    ids, labels, positions = [], [], []
    for e in examples:
        ids += e["input_ids"]
        labels += [IGNORE_INDEX] + e["labels"][1:]
        positions += range(len(e["input_ids"]))
    row = lambda values: torch.tensor([values], dtype=torch.long)  # noqa: E731
    return {"input_ids": row(ids), "position_ids": row(positions), "labels": row(labels)}


# --------------------------------------------------------------------------- contrastive samples


class ContrastiveSamples(torch.utils.data.Dataset):
    """``contrastive_train/val.parquet`` (``schema.CONTRASTIVE``) over a dense embedding matrix.

    ``embeddings`` is a ``prover_data.embeddings.dense.DenseEmbeddings`` (anything with
    ``lookup``, ``gather_stored``, ``dtype`` and ``dim``). Every positive and negative
    state hash is turned into a matrix row once, on load, so a state missing from the
    embeddings stops the run here, with the file named, instead of being skipped at step
    9,000 as BurnQED's cache misses were -- or, with ``missing="skip"``, is dropped or
    refilled from ``pools`` (``prover_models.missing_vectors``; ``self.missing`` says
    how much). Rows are ordered by ``sample_id`` (the build numbers samples by round and
    theorem, i.e. by content).

    Indexing with an array of sample indices returns a whole batch from one vectorized
    gather of its (1 + K) * n vectors; the hot path of EBM training runs no per-row
    Python. An int index returns one sample. Items are dicts of tensors: ``pos``
    [..., d] and ``neg`` [..., K, d] in the store's dtype (float16, bfloat16 or
    float32: ``widen`` makes them float32 on the training device) and ``depth`` [...]
    (remaining proof depth of the positive, -1 when unknown).
    """

    def __init__(self, path: str | Path, embeddings, *, k: int | None = None, missing: str = "refuse",
                 pools: pa.Table | None = None, seed: int = 0):
        name = str(path)
        table = _read_checked(path, CONTRASTIVE, "prover-data build-manifest NAME")
        if table.num_rows == 0:
            raise InputError.one(name, "no samples: this split has no theorem with both positives and negatives")
        lengths = pc.list_value_length(table.column("neg_state_hashes")).to_numpy()
        want = int(lengths[0]) if k is None else k
        bad = np.flatnonzero(lengths != want)
        if len(bad):
            hint = " (contrastive.k_negatives; rebuild with prover-data build-manifest NAME)" if k is not None else ""
            raise InputError([Problem(name, f"expected {want} negatives per sample{hint}, found {lengths[bad[0]]}",
                                      row=int(bad[0]), column="neg_state_hashes", count=len(bad))])
        table = table.sort_by("sample_id")
        self.path = Path(path)
        self.k = want
        self.embeddings = embeddings
        resolved = resolve(name, table, embeddings, want, policy=missing, pools=pools, seed=seed)
        if not len(resolved.kept):
            raise InputError.one(name, f"no sample left: {resolved.report.line('these samples')}")
        table = table.take(resolved.kept)
        self.pos_rows, self.neg_rows, self.missing = resolved.pos_rows, resolved.neg_rows, resolved.report
        self.depth = table.column("pos_remaining_depth").to_numpy().astype(np.int64)
        self.sample_id = table.column("sample_id").to_numpy()
        self.round = table.column("round").to_numpy()
        self.theorem_name = table.column("theorem_name").to_pylist()

    def __len__(self) -> int:
        return len(self.pos_rows)

    def __getitem__(self, index) -> dict[str, np.ndarray]:
        idx = np.asarray(index, dtype=np.int64)
        rows = np.concatenate([self.pos_rows[idx].reshape(-1), self.neg_rows[idx].reshape(-1)])
        vectors = stored_tensor(self.embeddings.gather_stored(rows), self.embeddings.dtype)  # one read of (1 + K) * n rows
        n = idx.size
        return {
            "pos": vectors[:n].reshape(*idx.shape, -1),
            "neg": vectors[n:].reshape(*idx.shape, self.k, -1),
            "depth": torch.as_tensor(self.depth[idx]),
        }

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` sample indices chosen by content (round, theorem) and seed; all when n >= len."""
        if n >= len(self):
            return np.arange(len(self))
        keys = [split_bucket(seed, f"{r}:{t}") for r, t in zip(self.round.tolist(), self.theorem_name)]
        return np.sort(np.argsort(np.asarray(keys), kind="stable")[:n])


def split_pools(build: str | Path, split: str) -> pa.Table | None:
    """``split``'s rows of the build's ``contrastive_pools.parquet``, what a negative without a
    vector is refilled from; None for a build made before the file existed (no refill)."""
    path = Path(build) / "contrastive_pools.parquet"
    if not path.is_file():
        return None
    pools = _read_checked(path, CONTRASTIVE_POOLS, "prover-data build-manifest NAME")
    return pools.filter(pc.equal(pools.column("split"), split))


def stored_tensor(raw: np.ndarray, dtype: str) -> torch.Tensor:
    """Stored vectors as a tensor of their own dtype, without a copy (bfloat16 arrives as uint16 bits)."""
    tensor = torch.from_numpy(raw)
    return tensor.view(torch.bfloat16) if dtype == "bfloat16" else tensor


def widen(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """A batch on ``device``, its vectors widened to float32 there (exact for fp16 and bf16)."""
    out = {}
    for key, value in batch.items():
        value = torch.as_tensor(value).to(device, non_blocking=True)
        out[key] = value.float() if value.is_floating_point() else value
    return out


@functools.lru_cache(maxsize=4)
def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The seeded permutation of ``n`` samples for one pass over the data."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Sample indices of training step ``step``: a pure function of its arguments.

    The stream is epoch 0's permutation, then epoch 1's, and so on; step s takes
    positions [s * batch_size, (s + 1) * batch_size) of it, so a batch may straddle two
    epochs. A resumed run asks for its next step directly: the data position is the
    step number, with no sampler state to save.
    """
    start, out, filled = step * batch_size, np.empty(batch_size, np.int64), 0
    while filled < batch_size:
        epoch, offset = divmod(start + filled, n)
        take = epoch_order(n, seed, epoch)[offset:offset + batch_size - filled]
        out[filled:filled + len(take)] = take
        filled += len(take)
    return out


class StepBatches(torch.utils.data.Sampler):
    """Yields ``batch_indices`` for steps ``start`` .. ``stop - 1``."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, stop: int):
        self.n, self.batch_size, self.seed, self.start, self.stop = n, batch_size, seed, start, stop

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield batch_indices(self.n, self.batch_size, self.seed, step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def contrastive_loader(dataset: ContrastiveSamples, batch_size: int, seed: int, start: int, stop: int,
                       *, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """Batches of ``dataset`` for steps ``start`` .. ``stop - 1``, as dicts of tensors.

    ``batch_size=None`` hands each index array to ``ContrastiveSamples.__getitem__``
    whole: one gather per batch instead of one per sample plus a collate. The loader
    gets its own generator: left to itself it draws a seed from torch's global RNG when
    iteration starts, which would shift the dropout masks of a resumed run.
    """
    sampler = StepBatches(len(dataset), batch_size, seed, start, stop)
    return torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=None, pin_memory=pin_memory,
                                       generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- proof certificates


class PackedCertificates(torch.utils.data.Dataset):
    """``train.txt`` / ``val.txt`` of a certificate corpus, packed into byte rows.

    Rows hold whole certificates only (``prover_data.certificates.packing``; one longer than a row
    is left out and counted in ``packed.too_long``). Item ``i`` is ``(inputs,
    targets)``, int64 tensors of ``context_length``: the row's bytes and the next byte
    of each, with ``IGNORE_INDEX`` where the target is padding. Indexing with an array
    returns a whole batch from one vectorized gather.
    """

    def __init__(self, directory: str | Path, split: str, context_length: int):
        from prover_data.certificates.corpus import read_corpus
        from prover_data.certificates.packing import pack

        self.path = Path(directory) / f"{split}.txt"
        self.certificates = read_corpus(directory, f"{split}.txt")
        self.packed = pack([c.encode("utf-8") for c in self.certificates], context_length)
        self.tokens = torch.from_numpy(self.packed.tokens.astype(np.int64))
        self.lengths = torch.from_numpy(self.packed.lengths)
        self.context_length = context_length

    def __len__(self) -> int:
        return self.packed.rows

    def __getitem__(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(index, dtype=torch.long)
        rows = self.tokens[idx]
        inputs, targets = rows[..., :-1], rows[..., 1:].clone()
        position = torch.arange(self.context_length)
        targets[position >= (self.lengths[idx] - 1).unsqueeze(-1)] = IGNORE_INDEX
        return inputs, targets

    def target_count(self, index) -> int:
        """Bytes that carry loss in rows ``index``: each row's length less its first byte."""
        return int((self.lengths[torch.as_tensor(index, dtype=torch.long)] - 1).clamp(min=0).sum())
