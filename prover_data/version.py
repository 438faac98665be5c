"""The installed package's version, for the CLI's ``--version`` and a build's record.

Its own module so that nothing inside the package imports the package root.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prover-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
