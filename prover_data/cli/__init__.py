"""The ``prover-data`` command: one root group, commands grouped by area.

Each area's commands live in ``prover_data/cli/<area>.py`` and import heavy
libraries (torch, transformers, ray) inside the command body, so ``prover-data
--help`` stays fast. Exit status: 0 ok, 2 bad input or usage (an ``InputError``,
printed as one line per problem, no traceback), 1 internal error.
"""

from __future__ import annotations

import sys

import click

from prover_data.errors import InputError, cut_line, tally_line
from prover_data.version import __version__

MAX_PROBLEMS_SHOWN = 50


class _Root(click.Group):
    """Turns ``InputError`` anywhere below into readable lines and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as e:
            report_input_error(e)
            sys.exit(2)


def report_input_error(e: InputError) -> None:
    """Every problem up to ``MAX_PROBLEMS_SHOWN``; past that, the true count of what is left
    out and the total of every rule, so a cut list never understates the damage."""
    for p in e.problems[:MAX_PROBLEMS_SHOWN]:
        click.secho(f"error: {p}", err=True, fg="red")
    cut = cut_line(e.problems, MAX_PROBLEMS_SHOWN)
    if cut:
        click.secho(f"error: {cut}", err=True, fg="red")
        click.secho(f"error: in all: {tally_line(e.problems)}", err=True, fg="red")


@click.group(
    cls=_Root,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", "-V", prog_name="prover-data")
def main() -> None:
    """Turn Lean proof-search trajectories into versioned, leak-free training data.

    \b
    A typical expert-iteration round:
      prover-data synth replica --scale 1.0 --seed 0      # or bring real trajectories
      prover-data validate replica/trajectories/*.parquet
      prover-data build-manifest iter_4 --data-root replica
      prover-data query iter_4 "SELECT source, count(*) FROM sft_train GROUP BY ALL"
      prover-data embed iter_4 && prover-data train-ebm iter_4
      prover-data eval build iter_4

    A manifest NAME is looked up as manifests/NAME.toml in $PROVER_DATA_MANIFESTS, then
    the working directory, then among the manifests shipped with prover-data (demo), or
    give a path to a .toml.
    Every command takes --help with examples.
    """


def _register() -> None:
    from prover_data.cli.commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_register()
