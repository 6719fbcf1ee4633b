"""One version for every distribution: check for drift, or bump them all.

    python scripts/versions.py check        fail on any mismatch
    python scripts/versions.py bump 0.2.0   rewrite every version and sibling pin

Checked: each package's ``__about__.py`` version, the core's extras
(``regstore-s3==V``), each driver's ``regstore==V`` dependency, and that each
extra's driver package declares entry points in ``regstore.drivers``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parent.parent
PACKAGES = REPO / "packages"
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)
SIBLING_PIN = re.compile(r'"(regstore(?:-[a-z0-9]+)?)==([^"]+)"')


def about_files() -> dict[str, Path]:
    """Each distribution's name and the file that holds its version."""
    found = {}
    for pyproject in sorted(PACKAGES.glob("*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        module = name.replace("-", "_")
        found[name] = pyproject.parent / "src" / module / "__about__.py"
    return found


def check() -> list[str]:
    """Every drift found, as sentences."""
    problems = []
    versions = {}
    for name, about in about_files().items():
        match = VERSION_LINE.search(about.read_text())
        if match is None:
            problems.append(f"{about}: no __version__ line")
            continue
        versions[name] = match.group(1)
    expected = versions.get("regstore")
    for name, version in versions.items():
        if version != expected:
            problems.append(f"{name} is at {version}, the core at {expected}")
    for pyproject in sorted(PACKAGES.glob("*/pyproject.toml")):
        for dist, pinned in SIBLING_PIN.findall(pyproject.read_text()):
            if pinned != expected:
                where = pyproject.relative_to(REPO)
                problems.append(f"{where} pins {dist}=={pinned}, not {expected}")
    core = tomllib.loads((PACKAGES / "regstore" / "pyproject.toml").read_text())
    for extra, requirements in core["project"].get("optional-dependencies", {}).items():
        for requirement in requirements:
            dist = requirement.split("==")[0]
            path = PACKAGES / dist / "pyproject.toml"
            if not dist.startswith("regstore-"):
                continue
            if not path.exists():
                problems.append(f"extra {extra!r} names {dist}, which has no package folder")
                continue
            project = tomllib.loads(path.read_text())["project"]
            if not project.get("entry-points", {}).get("regstore.drivers"):
                problems.append(f"{dist} declares no regstore.drivers entry point")
    return problems


def bump(new: str) -> None:
    """Write ``new`` into every ``__about__.py`` and every sibling pin."""
    for about in about_files().values():
        about.write_text(VERSION_LINE.sub(f'__version__ = "{new}"', about.read_text()))
    for pyproject in PACKAGES.glob("*/pyproject.toml"):
        text = pyproject.read_text()
        pyproject.write_text(SIBLING_PIN.sub(lambda m: f'"{m.group(1)}=={new}"', text))


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        problems = check()
        for problem in problems:
            print(f"version drift: {problem}", file=sys.stderr)
        return 1 if problems else 0
    if len(argv) == 2 and argv[0] == "bump":
        bump(argv[1])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
