"""Safe file output: never a half-written file in place of a good one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import RetroxlError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(dest: str | Path, *, force: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; on success it is flushed and renamed over ``dest``."""
    dest = Path(dest)
    if dest.exists() and not force:
        raise RetroxlError(f"{dest} already exists (use --force to replace it)")
    if dest.is_dir():
        raise RetroxlError(f"{dest} is a folder, not a file")
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise RetroxlError(f"cannot write {dest}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem[:40]}.", suffix=dest.suffix + ".tmp", dir=folder)
    except OSError as e:
        raise RetroxlError(f"cannot write {dest}: {e.strerror or e}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a new file should get the usual mode
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
