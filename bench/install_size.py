"""Install size of each way to install jiansuo, from the packages installed in this environment.

For a set of extras: the closure of jiansuo's requirements (each distribution's own requirements, their extras
and environment markers, followed recursively), and the bytes on disk of the files each distribution
installed (its RECORD). The environment must hold every extra (scripts/setup.sh test installs them all).

Run: python bench/install_size.py
"""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from common import table
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

WAYS = {"keyword search + site (web)": ["web"],
        "scripts/demo.sh before (web,eval,dense with torch)": ["web", "eval", "dense", "train"],
        "scripts/demo.sh now (web,dense)": ["web", "dense"],
        "+ semantic search (web,dense): serving and indexing": ["web", "dense"],
        "+ training (web,dense,train): torch": ["web", "dense", "train"]}


def closure(extras: list[str]) -> set[str]:
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [("jiansuo", tuple(extras))]
    while todo:
        name, wanted = todo.pop()
        key = f"{canonicalize_name(name)}[{','.join(sorted(wanted))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                todo.append((requirement.name, tuple(requirement.extras)))
    return {key.split("[")[0] for key in seen} - {"jiansuo"}


def size_of(name: str) -> int:
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0
    total = 0
    for file in distribution.files or []:
        path = Path(str(distribution.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> None:
    rows = []
    for label, extras in WAYS.items():
        names = closure(extras)
        sizes = {name: size_of(name) for name in names}
        biggest = sorted(sizes.items(), key=lambda item: -item[1])[:4]
        rows.append([label, len(names), f"{sum(sizes.values()) / 2**20:.0f}",
                     ", ".join(f"{n} {s / 2**20:.0f}" for n, s in biggest)])
        print(rows[-1], flush=True)
    print(table(["install", "distributions", "MiB on disk", "largest (MiB)"], rows))


if __name__ == "__main__":
    main()
