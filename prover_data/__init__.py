"""prover-data: versioned, reproducible, leak-free training data from Lean proof search."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prover-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
