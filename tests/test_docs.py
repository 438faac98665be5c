"""What the commands' --help points to exists, and the examples in the docs are what the code says."""

from __future__ import annotations

import fnmatch
import re

import click
import pytest

from prover_data.certificates.grammar import decode, encode, validate_certificate
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


# ----------------------------------------------------------------------------- docs/architecture.md

ARCHITECTURE = REPO / "docs" / "architecture.md"
TICKED = re.compile(r"`([^`]+)`")
# A name of a real file or folder: every part lower case (``sql/NN_name.sql`` stands for a kind of file).
FILE_NAME = re.compile(r"(?:[a-z0-9_][\w.]*/)*(?:[a-z0-9_][\w.]*\.(?:py|sql)|[a-z0-9_][\w.]*/)")
ROOTS = ("prover_data/", "prover_models/", "sql/", "benchmarks/", "tests/", "docs/")


def _table(heading: str) -> list[list[str]]:
    """The cells of each row of the table under ``## heading`` (header and rule left out)."""
    section = ARCHITECTURE.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 3, heading
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def _layout_names() -> tuple[set[str], set[str]]:
    """What the layout table names, as paths from the repository root: files and folders
    (a name that is not a path from the root is one inside the row's place), and the
    modules its patterns (``prover_data/cli/<area>.py``) stand for."""
    named, patterns = set(), set()
    for place, holds in _table("Layout and ownership"):
        first = TICKED.findall(place)[0]
        base = first if first.endswith("/") else first.rpartition("/")[0] + "/"
        for token in TICKED.findall(place) + TICKED.findall(holds):
            if re.fullmatch(r"[\w./]*<\w+>[\w./]*", token):
                patterns |= {p.relative_to(REPO).as_posix() for p in REPO.glob(re.sub(r"<\w+>", "*", token))}
            elif FILE_NAME.fullmatch(token):
                named.add(token if token.startswith(ROOTS) else base + token)
    return named, patterns


def test_every_file_the_layout_table_names_exists_and_every_module_is_named():
    named, patterns = _layout_names()
    assert {"prover_data/identity.py", "prover_data/embeddings/fingerprint.py", "sql/macros.sql",
            "prover_models/chargpt/train.py"} <= named
    assert "prover_data/cli/train.py" in patterns
    missing = sorted(n for n in named if not (REPO / n).exists())
    assert not missing, f"the layout table of {ARCHITECTURE.name} names what does not exist: {missing}"
    modules = {p.relative_to(REPO).as_posix() for top in ("prover_data", "prover_models")
               for p in (REPO / top).rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts}
    unnamed = sorted(modules - named - patterns)
    assert not unnamed, f"modules the layout table of {ARCHITECTURE.name} does not name: {unnamed}"


def test_every_view_the_views_table_names_is_defined_in_sql():
    from prover_data.sql_files import all_sql_files

    defined = {name for f in all_sql_files() for name in re.findall(
        r"CREATE (?:OR REPLACE )?(?:TEMP )?(?:VIEW|MACRO) (\w+)", f.read_text(encoding="utf-8"))}
    views = [name for view, _ in _table("SQL views (`sql/`)") for name in TICKED.findall(view)]
    assert len(views) > 20 and {"trajectory_records", "label_stats", "value_distances"} <= set(views)
    assert not sorted(set(views) - defined), f"views table names views no sql/ file defines: " \
                                             f"{sorted(set(views) - defined)}"


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory):
    from prover_data.build.stages import build
    from prover_data.manifest import load_manifest

    return build(load_manifest(REPO / "manifests" / "demo.toml"), tmp_path_factory.mktemp("build")).out_dir


def test_the_build_output_table_names_every_file_a_build_writes_and_only_those(demo_build):
    from prover_data.schema import OUTPUTS

    names = [name for file, _ in _table("Build output: `build/NAME/`") for name in TICKED.findall(file)]
    patterns = [re.sub(r"<\w+>", "*", name) for name in names]
    assert {f"{output}.parquet" for output in OUTPUTS} <= set(names)
    absent = [n for n, p in zip(names, patterns) if not list(demo_build.glob(p))]
    assert not absent, f"the build output table names files a build does not write: {absent}"
    written = [p.relative_to(demo_build).as_posix() for p in demo_build.rglob("*")
               if p.is_file() and not p.name.startswith(".")]
    unnamed = sorted(w for w in written if not any(fnmatch.fnmatch(w, p) for p in patterns))
    assert not unnamed, f"files a build writes that the build output table does not name: {unnamed}"
