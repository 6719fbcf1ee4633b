"""One version for every distribution: check for drift, or bump them all.

    python scripts/versions.py check        fail on any mismatch
    python scripts/versions.py bump 0.2.0   rewrite every version and sibling pin

Checked: each package's ``__about__.py`` version, the core's extras
(``regstore-s3==V``), each driver's ``regstore==V`` dependency, and that each
extra's driver package declares entry points in ``regstore.drivers``.

``check`` also fails when a folder under ``packages/`` is not wired everywhere a
package must be, printing the line that is missing: the root ``pyproject.toml``
lists (hatch workspace, ruff's first-party modules, mypy's files), the package's
``regstore.drivers`` and ``regstore.testing`` entry points (the latter naming a
module that exists) and a conformance binding in its ``tests/``; for a driver
package also the core's extra and ``all``, ``factory.KNOWN_EXTRAS`` for each of
its driver names, and its rows in README.md (driver table, repository tree).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

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


def _known_extras() -> dict[str, str]:
    """``factory.KNOWN_EXTRAS`` as written (read, not imported: the check needs no install)."""
    factory = PACKAGES / "regstore" / "src" / "regstore" / "factory.py"
    for node in ast.parse(factory.read_text()).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [target.id for target in targets if isinstance(target, ast.Name)]
            if "KNOWN_EXTRAS" in names and node.value is not None:
                value: dict[str, str] = ast.literal_eval(node.value)
                return value
    return {}


def _entry_points(project: dict[str, Any], group: str) -> dict[str, str]:
    found: dict[str, str] = project.get("entry-points", {}).get(group, {})
    return found


def wiring() -> list[str]:
    """Every place a package under ``packages/`` is not wired, with the missing line."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = root["tool"]["hatch"]["envs"]["default"]["workspace"]["members"]
    first_party = root["tool"]["ruff"]["lint"]["isort"]["known-first-party"]
    mypy_files = root["tool"]["mypy"]["files"]
    core = tomllib.loads((PACKAGES / "regstore" / "pyproject.toml").read_text())["project"]
    extras = core.get("optional-dependencies", {})
    known = _known_extras()
    readme = (REPO / "README.md").read_text()
    about = VERSION_LINE.search(
        (PACKAGES / "regstore" / "src" / "regstore" / "__about__.py").read_text()
    )
    core_version = about.group(1) if about else "<version>"
    problems = []
    for pyproject in sorted(PACKAGES.glob("*/pyproject.toml")):
        folder = pyproject.parent
        where = folder.relative_to(REPO).as_posix()
        project = tomllib.loads(pyproject.read_text())["project"]
        dist = project["name"]
        module = dist.replace("-", "_")
        version = f"{dist}=={core_version}"

        def missing(place: str, line: str) -> None:
            problems.append(f"{place} lacks: {line}")

        if where not in members:
            missing("pyproject.toml [tool.hatch.envs.default.workspace] members", f'"{where}",')
        if module not in first_party:
            missing("pyproject.toml [tool.ruff.lint.isort] known-first-party", f'"{module}",')
        if f"{where}/src" not in mypy_files:
            missing("pyproject.toml [tool.mypy] files", f'"{where}/src",')
        drivers = _entry_points(project, "regstore.drivers")
        if not drivers:
            missing(
                f'{where}/pyproject.toml [project.entry-points."regstore.drivers"]',
                f'<name> = "{module}.driver:<Driver>"',
            )
        testing = _entry_points(project, "regstore.testing")
        if not testing:
            missing(
                f'{where}/pyproject.toml [project.entry-points."regstore.testing"]',
                f'<name> = "{module}.testing:backends"',
            )
        for name, value in testing.items():
            path = folder / "src" / Path(*value.partition(":")[0].split("."))
            if not path.with_suffix(".py").exists() and not (path / "__init__.py").exists():
                problems.append(f"{where}: regstore.testing entry {name} names {value}, no module")
        bindings = [
            p for p in sorted(folder.glob("tests/test_*.py")) if "BackendSuite" in p.read_text()
        ]
        if not bindings:
            missing(f"{where}/tests/", "a test_*.py binding the conformance suite (BackendSuite)")
        if dist == "regstore":
            continue
        extra = next(
            (
                name
                for name, reqs in extras.items()
                if name != "all" and any(r.split("==")[0] == dist for r in reqs)
            ),
            None,
        )
        short = dist.removeprefix("regstore-")
        if extra is None:
            missing(
                "packages/regstore/pyproject.toml [project.optional-dependencies]",
                f'{short} = ["{version}"]',
            )
        if not any(r.split("==")[0] == dist for r in extras.get("all", [])):
            missing(
                "packages/regstore/pyproject.toml [project.optional-dependencies] all",
                f'"{version}",',
            )
        for name in drivers:
            if known.get(name) != (extra or short):
                missing(
                    "packages/regstore/src/regstore/factory.py KNOWN_EXTRAS",
                    f'"{name}": "{extra or short}"',
                )
        if not re.search(rf"^\|[^\n]*\| `{re.escape(dist)}` \|", readme, re.MULTILINE):
            names = " ".join(f"`{name}`" for name in drivers) or "`<driver>`"
            missing("README.md driver table", f"| {names} | `{dist}` | <backend> |")
        if not re.search(rf"^{re.escape(where)}\s", readme, re.MULTILINE):
            missing("README.md repository tree", f"{where} <what it is>")
    offered = {
        name
        for pyproject in PACKAGES.glob("*/pyproject.toml")
        for name in _entry_points(
            tomllib.loads(pyproject.read_text())["project"], "regstore.drivers"
        )
    }
    for name in sorted(set(known) - offered):
        problems.append(
            f"factory.KNOWN_EXTRAS names {name!r}, which no package under packages/ offers"
        )
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
        unwired = wiring()
        for problem in unwired:
            print(f"not wired: {problem}", file=sys.stderr)
        return 1 if problems or unwired else 0
    if len(argv) == 2 and argv[0] == "bump":
        bump(argv[1])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
