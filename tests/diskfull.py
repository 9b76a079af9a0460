"""A full disk, as far as reason files are concerned: a fault injected at the write.

Patches ``os.fdopen`` so that writing any file whose name ends in ``.reason.txt``
fails with ENOSPC, the way a full landing volume fails it: at the write (or its
flush), whatever order of steps the code under test uses. Other files are untouched.
"""

from __future__ import annotations

import errno
import os

import pytest


class _NoSpace:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def write(self, _data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _NoSpace:
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


def fill_the_disk_for_reason_files(monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        handle = real(fd, mode, *args, **kwargs)
        if "w" in mode and os.readlink(f"/proc/self/fd/{fd}").endswith(".reason.txt"):
            return _NoSpace(handle)
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)
