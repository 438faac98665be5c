"""The replica's shape: the report's trajectory files at scale 1.0, and the sizes of
everything else, scaled by ``scaled``."""

from __future__ import annotations

from dataclasses import dataclass

PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, row_group_size=65536,
                       write_statistics=True, use_dictionary=True)


@dataclass(frozen=True)
class FileProfile:
    """One trajectory file of the report at scale 1.0."""

    name: str
    rows: int  # records in the file
    searches: int  # theorems searched
    proofs: int  # searches that found a proof
    kind: str = "search"  # "search" or "negatives" (generate-negatives chains)
    ebm: bool = False  # searched with an EBM (non-zero ebm_score)


# Rows are the report's; searches and proofs are chosen so that positive rows and the
# SFT loader's usable/empty counts land near the report's per-file lines.
REPORT_FILES = (
    FileProfile("iter_0", 3_830, 250, 120),
    FileProfile("iter_0_noisy", 4_619, 300, 170),
    FileProfile("iter_1", 140_910, 4_000, 1_280, ebm=True),
    FileProfile("iter_1_harvest", 37_861, 1_500, 630, ebm=True),
    FileProfile("iter_1_negatives", 127_182, 2_500, 2_500, kind="negatives"),
    FileProfile("iter_2", 250_275, 7_000, 1_750, ebm=True),
    FileProfile("iter_2_broken_ebm", 80_314, 2_500, 575, ebm=True),
    FileProfile("iter_2_search", 5_033, 120, 45, ebm=True),
)
TRAJECTORY_THEOREMS = 15_426
INDEX_THEOREMS = 62_000
BASE_TACTICS = 62_000
TRAIN_EVAL = 198
WHITESPACE_TWINS = 300
SORRY_TACTICS = 10
EVAL_THEOREMS, EVAL_RAN = 100, 83


def scaled(count: int, scale: float, minimum: int = 1) -> int:
    """A scale-1.0 count at ``scale``, at least ``minimum``."""
    return max(minimum, int(round(count * scale)))
