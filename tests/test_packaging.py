"""The wheel works outside the checkout: the demo builds anywhere and never writes into the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``root``: relative path -> (size, mtime in ns)."""
    out = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        out[path.relative_to(root).as_posix()] = (st.st_size if path.is_file() else 0, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project built as a wheel and installed into a bare target directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", ".", "-w", str(tmp / "dist")],
                   cwd=REPO, check=True, capture_output=True)
    (wheel,) = (tmp / "dist").glob("prover_data-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp / "site"), str(wheel)], check=True,
                   capture_output=True)
    return tmp / "site"


@pytest.mark.slow
def test_the_installed_demo_builds_in_the_working_directory_and_writes_nothing_in_the_package(
        installed, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed), "PYTHONDONTWRITEBYTECODE": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = run("-c", "import prover_data; print(prover_data.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed), where  # the wheel, not the checkout
    before = _files(installed)

    built = run("-m", "prover_data", "build-manifest", "demo", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["out"] == str(Path("build") / "demo")
    out = work / "build" / "demo"
    assert {"report.md", "lock.json", "stats.json", "sft_train.parquet"} <= {p.name for p in out.iterdir()}
    assert (out / "plots" / "contrastive.png").is_file()
    assert "# demo: data report" in (out / "report.md").read_text(encoding="utf-8")

    # The demo's embedding store lands beside the build, as it does in a checkout.
    embedded = run("-m", "prover_data", "embed", "demo", "--limit", "2", "--json")
    assert embedded.returncode == 0, embedded.stderr
    assert json.loads(embedded.stdout)["store"] == str(work / "build" / "stores" / "demo")
    assert (work / "build" / "stores" / "demo" / "HEAD").is_file()
    # A replica draws on the real theorem lists shipped in the wheel.
    synth = run("-m", "prover_data", "synth", "replica", "--scale", "0.002", "--json")
    assert synth.returncode == 0, synth.stderr
    assert (work / "replica" / "benchmarks" / "putnam.json").is_file() and json.loads(synth.stdout)["records"] > 0
    assert _files(installed) == before

    # Same lock as the checkout's build of the same manifest: same inputs, SQL, outputs.
    checkout = run_cli("build-manifest", "demo", "--build-dir", str(tmp_path / "checkout"), "--json", check=True)
    assert json.loads((out / "lock.json").read_text()) == json.loads(
        (Path(json.loads(checkout.stdout)["out"]) / "lock.json").read_text())


def test_a_manifest_in_the_working_directory_comes_before_the_shipped_one(installed, tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    text = (REPO / "manifests" / "demo.toml").read_text(encoding="utf-8")
    (manifests / "demo.toml").write_text(text.replace('data_root = "../data/sample"',
                                                      f'data_root = "{REPO / "data" / "sample"}"'))
    env = {**os.environ, "PYTHONPATH": str(installed), "PYTHONDONTWRITEBYTECODE": "1"}
    code = ("from prover_data.manifest import load_manifest; m = load_manifest('demo'); "
            "print(m.path); print(m.resolve(m.embeddings.store))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True)
    path, store = proc.stdout.split("\n")[:2]
    assert path == str(manifests / "demo.toml")
    assert store == str(REPO / "data" / "sample" / "../../build/stores/demo")  # a user's manifest: as written
