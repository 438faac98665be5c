"""Writes that are all-or-nothing, and locks that keep two writers apart.

A build, an embedding-store commit and an export each produce several files that
only make sense together. They are written into a hidden temporary sibling and made
visible by ``os.replace``; a crash (even ``kill -9``) leaves either the old result or
the new one, never a mix. A whole directory is replaced by exchanging it with the new
one in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so a reader always finds a
complete build, old or new. Where the file system cannot exchange, it takes two
renames (old aside, new in), and ``recover``, which every writer calls first, undoes
the window between them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

from prover_data.errors import InputError


def _aside(final: Path) -> Path:
    return final.parent / f".{final.name}.previous"


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(final: Path) -> None:
    """Finish or undo an interrupted directory swap, and drop stale temporaries."""
    final = Path(final)
    aside = _aside(final)
    if aside.exists():
        if final.exists():
            shutil.rmtree(aside)
        else:
            os.replace(aside, final)
    if final.parent.exists():
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            pid = stale.name.rsplit("-", 2)[-2]
            if not (pid.isdigit() and _alive(int(pid))):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``final`` whole on success.

    On an exception the temporary directory is removed and ``final`` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover(final)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        if final.exists() and _exchange(tmp, final):
            _fsync_dir(final.parent)
            shutil.rmtree(tmp)  # now the old result; a kill here leaves it for recover()
            return
        if final.exists():
            os.replace(final, _aside(final))
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        if _aside(final).exists():
            shutil.rmtree(_aside(final))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step; False where the system cannot (then nothing moved)."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


@functools.lru_cache(maxsize=1)
def _libc():
    """The C library (None where it cannot be loaded)."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


@contextlib.contextmanager
def atomic_file(final: str | Path, mode: str = "wb") -> Iterator:
    """Open a temporary sibling of ``final`` for writing; rename it into place on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(final: str | Path, data: bytes) -> None:
    with atomic_file(final, "wb") as f:
        f.write(data)


def atomic_write_text(final: str | Path, text: str) -> None:
    atomic_write_bytes(final, text.encode("utf-8"))


@contextlib.contextmanager
def exclusive(lock_path: str | Path, *, wait: bool = False, what: str = "this output") -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` for the block.

    With ``wait=False`` a second holder fails at once with a clear message instead
    of blocking; the lock is released by the kernel if the holder dies.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                holder = _read_holder(lock_path)
                raise InputError.one(
                    str(lock_path),
                    f"{what} is being written by another process{holder}; "
                    "wait for it to finish or pass --wait",
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        yield
    finally:
        os.close(fd)


def _read_holder(lock_path: Path) -> str:
    try:
        text = lock_path.read_text().strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""
