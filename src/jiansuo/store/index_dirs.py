"""Versioned index directories with an atomically swapped CURRENT pointer.

Layout: ``indexes/<kind>/v000007/`` (one built index, with a readable ``params.json``) and
``indexes/<kind>/CURRENT`` naming the live version. A rebuild writes a new version beside the live
one and then replaces CURRENT with a rename, so a crash at any moment leaves either the old or the new
version serving. Versions without ``params.json`` are unfinished builds: swept away once the process that
was building them (named in ``.builder``) is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMAT_VERSION = 1
BUILDER = ".builder"  # in an unfinished version: the id of the process building it


def _building(version: Path) -> bool:
    """Whether a live process (not this one's earlier, killed self) is still building `version`."""
    try:
        pid = int((version / BUILDER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temporary file in the same folder, fsync it, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexDirs:
    """The versions of one kind of derived index (e.g. 'bm25') under `root`."""

    def __init__(self, root: Path | str, kind: str):
        self.root = Path(root) / kind
        self.root.mkdir(parents=True, exist_ok=True)

    def current(self) -> Path | None:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        version = self.root / pointer.read_text(encoding="utf-8").strip()
        return version if (version / "params.json").exists() else None

    def new_version(self) -> Path:
        """A fresh, empty version directory beside the live one."""
        self.sweep()
        numbers = [int(p.name[1:]) for p in self.root.glob("v[0-9]*") if p.name[1:].isdigit()]
        version = self.root / f"v{max(numbers, default=0) + 1:06d}"
        version.mkdir()
        (version / BUILDER).write_text(str(os.getpid()), encoding="utf-8")
        return version

    def unfinished(self) -> list[Path]:
        """Versions without params.json: a build in progress, or one its process left when it was killed."""
        return [p for p in self.root.glob("v[0-9]*") if not (p / "params.json").exists()]

    def being_built(self) -> bool:
        """Whether a live process is building a version of this kind now (this process or another)."""
        return any(_building(p) for p in self.unfinished())

    @contextmanager
    def building(self) -> Iterator[Path]:
        """A new version to build in; removed if the build stops (an error, Ctrl-C), so none is left half-built."""
        version = self.new_version()
        try:
            yield version
        except BaseException:
            if not (version / "params.json").exists():
                shutil.rmtree(version, ignore_errors=True)
            raise

    def publish(self, version: Path, params: dict) -> None:
        """Finish `version` (write its params.json) and make it the live one."""
        self.write_params(version, params)
        pointer_tmp = self.root / ".CURRENT.tmp"
        pointer_tmp.write_text(version.name, encoding="utf-8")
        with open(pointer_tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, self.root / "CURRENT")
        _fsync_dir(self.root)
        self.sweep()

    @staticmethod
    def write_params(version: Path, params: dict) -> None:
        write_json_atomic(version / "params.json", {**params, "format_version": FORMAT_VERSION})

    @staticmethod
    def read_params(version: Path) -> dict:
        return json.loads((version / "params.json").read_text(encoding="utf-8"))

    def sweep(self, keep_previous: int = 1) -> None:
        """Remove unfinished builds and all but `keep_previous` older finished versions."""
        live = self.current()
        finished = sorted(p for p in self.root.glob("v[0-9]*") if (p / "params.json").exists())
        older = [p for p in finished if p != live and (live is None or p.name < live.name)]
        doomed = older[: max(0, len(older) - keep_previous)]
        doomed += [p for p in self.unfinished() if not _building(p)]
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)
