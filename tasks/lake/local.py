"""A lake in a local directory."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

from tasks.common.errors import LakeError
from tasks.lake.files import LakeFile

_SMALL_FILE = 64 * 1024  # read in one call; a file this size or larger is read whole again


class LocalLake:
    """A lake in a directory."""

    def __init__(self, root: str) -> None:
        self.root = Path(root).expanduser()
        self.uri = str(self.root)
        self._root = str(self.root)
        if not self.root.exists():
            raise LakeError(f"lake directory {self.root} does not exist")
        if not self.root.is_dir():
            raise LakeError(f"lake {self.root} is not a directory")

    # Reading local files is cheaper than handing them to threads: a couple of threads overlap
    # the system calls; more only contend for the GIL.
    read_threads = 2

    def list(self, prefix: str) -> list[LakeFile]:
        top = self.root / prefix
        if not top.is_dir():
            return []
        found: builtins.list[LakeFile] = []  # `list` here is the method
        self._scan(str(top), f"{prefix.strip('/')}/", found)
        return sorted(found, key=lambda f: f.key)

    def _scan(self, folder: str, key_prefix: str, found: builtins.list[LakeFile]) -> None:
        """os.scandir, not Path.rglob: 20,000 song files list ~5x faster (stat comes with the
        directory entry); folders from a stack, not by recursion: 0.22-0.26 s against
        0.27-0.34 s for the 17,600 folders of 20,000 song files."""
        pending = [(folder, key_prefix)]
        while pending:
            folder, key_prefix = pending.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir():
                        pending.append((entry.path, f"{key_prefix}{entry.name}/"))
                    elif entry.is_file():
                        stat = entry.stat()
                        found.append(
                            LakeFile(
                                f"{key_prefix}{entry.name}", stat.st_size, str(stat.st_mtime_ns)
                            )
                        )

    def read(self, key: str) -> bytes:
        # A small file (a song file) in two read system calls, the second confirming the end
        # (a network or FUSE file system may return less than asked before it): 20,000 song
        # files in 0.13-0.16 s, against 0.17-0.22 s through an unbuffered file object (which
        # asks the size first; bench/parse_pieces.py) and 0.27 s through pathlib. A larger
        # file is read whole through the file object, in one allocation.
        fd = os.open(os.path.join(self._root, key), os.O_RDONLY)
        try:
            head = os.read(fd, _SMALL_FILE)
            if len(head) < _SMALL_FILE:
                rest = os.read(fd, _SMALL_FILE)
                if not rest:
                    return head
            os.lseek(fd, 0, os.SEEK_SET)
            with open(fd, "rb", buffering=0, closefd=False) as file:
                return file.read()
        finally:
            os.close(fd)
