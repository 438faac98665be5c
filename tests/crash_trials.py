"""Crash, concurrency and bad-input trials against the real CLI, shared by tests and the benchmark.

Each trial runs ``prover-data`` in a subprocess exactly as a user would, interferes
(``kill -9`` at a random moment, a second concurrent build, a malformed input) and
then checks the promise: the previous result is intact and readable, nothing partial
is visible, and a rerun finishes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from prover_data.build.files import VIEWS_DB
from prover_data.build.views_db import MARKER
from prover_data.identity import file_digest

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "prover_data", *args], cwd=cwd or REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    p = cli(*args)
    out, err = p.communicate(timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def snapshot(build_dir: Path) -> dict[str, str]:
    """Content hash of every file of a build (views.duckdb and its marker are a convenience, skipped)."""
    return {str(p.relative_to(build_dir)): file_digest(p) for p in sorted(build_dir.rglob("*"))
            if p.is_file() and p.name not in (VIEWS_DB, MARKER)}


def build_is_intact(build_dir: Path) -> bool:
    """The lock is readable and every output it lists has the recorded content hash."""
    try:
        lock = json.loads((build_dir / "lock.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return all(file_digest(build_dir / o["file"]) == o["hash"] for o in lock["outputs"].values()
               if (build_dir / o["file"]).is_file()) and all((build_dir / o["file"]).is_file()
                                                              for o in lock["outputs"].values())


@dataclass
class CrashTrial:
    delay: float
    killed: bool  # the process was still running when killed
    previous_intact: bool
    no_partial_visible: bool
    rerun_ok: bool

    @property
    def clean(self) -> bool:
        return self.previous_intact and self.no_partial_visible and self.rerun_ok


def kill_build_trial(manifest: str, build_root: Path, delay: float) -> CrashTrial:
    """kill -9 a forced rebuild after ``delay`` seconds; check the previous build survives."""
    out = build_root / Path(manifest).stem
    before = snapshot(out)
    p = cli("build-manifest", manifest, "--build-dir", str(build_root), "--force")
    time.sleep(delay)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.communicate()
    after = snapshot(out)
    intact = build_is_intact(out) and (after == before or not killed)
    visible = sorted(q.name for q in build_root.iterdir())
    no_partial = all(not name.startswith(out.name) or name == out.name for name in visible)
    rerun = run("build-manifest", manifest, "--build-dir", str(build_root))
    leftovers = [q.name for q in build_root.iterdir() if ".tmp-" in q.name or q.name.endswith(".previous")]
    return CrashTrial(delay, killed, intact, no_partial,
                      rerun.returncode == 0 and build_is_intact(out) and not leftovers)


def crash_trials(manifest: str, build_root: Path, trials: int, seed: int = 0) -> list[CrashTrial]:
    """First a clean build, then ``trials`` kills spread over the build's duration."""
    t0 = time.time()
    first = run("build-manifest", manifest, "--build-dir", str(build_root), "--force")
    if first.returncode != 0:
        raise RuntimeError(first.stderr)
    duration = time.time() - t0
    rng = random.Random(seed)
    return [kill_build_trial(manifest, build_root, rng.uniform(0.05, duration)) for _ in range(trials)]


@dataclass
class ConcurrencyTrial:
    codes: tuple[int, int]
    clear_message: bool
    intact: bool

    @property
    def clean(self) -> bool:
        one_wins = sorted(self.codes) in ([0, 0], [0, 2])
        return one_wins and self.intact and (self.codes.count(2) == 0 or self.clear_message)


def concurrent_builds(manifest: str, build_root: Path, wait: bool = False) -> ConcurrencyTrial:
    """Two forced builds of one manifest at once: one wins, the other waits or says why it can't."""
    extra = ("--wait",) if wait else ()
    a = cli("build-manifest", manifest, "--build-dir", str(build_root), "--force", *extra)
    b = cli("build-manifest", manifest, "--build-dir", str(build_root), "--force", *extra)
    (_, ea), (_, eb) = a.communicate(), b.communicate()
    codes = (a.returncode, b.returncode)
    loser_err = ea if a.returncode == 2 else eb
    clear = "being written by another process" in loser_err and "Traceback" not in loser_err
    return ConcurrencyTrial(codes, clear, build_is_intact(build_root / Path(manifest).stem))
