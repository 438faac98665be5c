"""BurnQED search configs: TOML with a ``[search]`` table (``configs/search.toml``)."""

from __future__ import annotations

from pathlib import Path

from prover_data.inputs.problems import Findings, shown
from prover_data.inputs.text_files import load_toml

# Keys of BurnQED's [search] table that hold numbers (configs/search.toml).
_SEARCH_NUMBERS = (
    "max_depth", "num_candidates", "alpha", "beta", "llm_temperature", "ebm_temperature",
    "timeout_per_theorem", "temperature", "top_p", "max_tactic_tokens", "batch_encode_size",
    "ebm_ramp_depth", "ebm_min_depth", "hybrid_num_proofs", "hybrid_min_proofs", "hybrid_max_rounds",
    "hybrid_max_tokens", "hybrid_min_tokens", "hybrid_tokens_decay_depth", "hybrid_budget",
)


def read_search_config(path: str | Path) -> dict:
    """A BurnQED search config: TOML with a ``[search]`` table (``data/burnqed/search.toml``).

    Keys are not restricted (BurnQED adds some in each release), but the known numeric
    ones must be numbers, and ``[lean_pool]``, when present, a table.
    """
    name = str(path)
    doc = load_toml(path)
    found = Findings(name)
    search = doc.get("search")
    if not isinstance(search, dict):
        found.whole("wrong_shape", "missing [search] table" if search is None else
                    f"expected a [search] table, found {type(search).__name__}", key="search")
    else:
        for key in _SEARCH_NUMBERS:
            v = search.get(key)
            if key in search and (isinstance(v, bool) or not isinstance(v, (int, float))):
                found.whole("wrong_type", f"expected a number, found {shown(v)}", key=f"search.{key}")
    if "lean_pool" in doc and not isinstance(doc["lean_pool"], dict):
        found.whole("wrong_type", "expected a [lean_pool] table", key="lean_pool")
    found.raise_if_any()
    return doc
