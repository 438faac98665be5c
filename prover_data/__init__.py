"""prover-data: versioned, reproducible, leak-free training data from Lean proof search."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prover-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"


def open(name, data_root=None, build_root="build"):  # noqa: A001 - the package's one entry point
    """The views and build outputs of manifest ``name`` as DuckDB relations (see ``api``)."""
    from prover_data.api import open as _open

    return _open(name, data_root, build_root)
