"""What the commands' --help points to exists, and the examples in the docs are what the code says."""

from __future__ import annotations

import re

import click

from prover_data.certificates import decode, encode, validate_certificate
from prover_data.cli import main
from tests.conftest import REPO

DOC_PATH = re.compile(r"docs/[\w./-]+?\.md")


def _helps(command: click.Command, ctx: click.Context) -> list[tuple[str, str]]:
    """``(command path, --help text)`` of ``command`` and every command below it."""
    out = [(ctx.command_path, command.get_help(ctx))]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            out += _helps(sub, click.Context(sub, info_name=name, parent=ctx))
    return out


def test_every_doc_a_help_text_names_exists():
    helps = _helps(main, click.Context(main, info_name="prover-data"))
    assert len(helps) > 20  # every command and group, subcommands included
    named = {(path, doc) for path, text in helps for doc in DOC_PATH.findall(" ".join(text.split()))}
    assert ("prover-data export-certificates", "docs/certificates.md") in named
    missing = sorted(f"{path}: {doc}" for path, doc in named if not (REPO / doc).is_file())
    assert not missing, "help texts name docs that do not exist:\n" + "\n".join(missing)


def test_the_certificate_examples_of_the_docs_are_valid_certificates():
    text = (REPO / "docs" / "certificates.md").read_text(encoding="utf-8")
    examples = re.findall(r"```certificate\n(.*?)```", text, flags=re.S)
    assert len(examples) == 2
    for example in examples:
        assert validate_certificate(example) == []
        assert encode(decode(example)) == example
    every_step, first = map(decode, examples)
    assert [s.tactic for s in every_step.steps] == [s.tactic for s in first.steps]
    assert [len(s.goals) for s in every_step.steps] == [1, 2, 1] and [len(s.goals) for s in first.steps] == [1, 0, 0]
    assert "(384 bytes)" in text and len(examples[0].encode("utf-8")) == 384
    assert "(204 bytes)" in text and len(examples[1].encode("utf-8")) == 204
