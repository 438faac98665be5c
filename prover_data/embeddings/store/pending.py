"""``pending/``: finished but uncommitted segments, one directory per writer.

A writer flushes finished vectors here as it goes, so a kill loses at most one
batch. Its directory is named ``<pid>-<nonce>``; once that process is gone (or the
writer released the directory) the segments are orphans, and the next writer of the
same encoder and dtype adopts them instead of encoding those states again.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from prover_data.embeddings.store.files import Segment


def new_writer_dir(store_path: Path) -> Path:
    """A fresh pending directory for a writer of this process."""
    path = store_path / "pending" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def orphaned(writer_dir: Path) -> bool:
    """A writer directory whose process is gone (or that its writer released)."""
    if (writer_dir / "released").exists():
        return True
    pid = writer_dir.name.split("-", 1)[0]
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def adopt_orphans(writer_dir: Path, encoder_id: str, dtype: str) -> int:
    """Move orphaned segments of this encoder and dtype into ``writer_dir``; rows adopted.

    The caller holds the store lock, so two writers never adopt the same segment.
    """
    rows = 0
    for wdir in sorted(writer_dir.parent.iterdir()):
        if wdir == writer_dir or not wdir.is_dir() or wdir.name.startswith(".") or not orphaned(wdir):
            continue
        for sdir in sorted(wdir.iterdir()):
            if not (sdir / "segment.json").is_file():
                continue  # an unfinished temporary: the dead writer's lost batch
            seg = Segment.load(sdir)
            if seg.encoder_id == encoder_id and seg.dtype == dtype:
                target = writer_dir / seg.id
                if target.exists():
                    shutil.rmtree(sdir)
                else:
                    os.replace(sdir, target)
                rows += seg.rows
        if not any((p / "segment.json").is_file() for p in wdir.iterdir()):
            shutil.rmtree(wdir, ignore_errors=True)
    return rows


def release(writer_dir: Path) -> None:
    """Leave a writer's finished segments to the next writer (or drop an empty directory)."""
    if writer_dir.exists():
        if any(writer_dir.iterdir()):
            (writer_dir / "released").touch()
        else:
            writer_dir.rmdir()
