"""prover-data: versioned, reproducible, leak-free training data from Lean proof search."""

from prover_data.version import __version__  # noqa: F401 - prover_data.__version__


def open(name, data_root=None, build_root="build"):  # noqa: A001 - the package's one entry point
    """The views and build outputs of manifest ``name`` as DuckDB relations (see ``api``)."""
    from prover_data.api import open as _open

    return _open(name, data_root, build_root)
