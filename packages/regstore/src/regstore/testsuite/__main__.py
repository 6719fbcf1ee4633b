"""List the declared test backends, or the emulators they need (``scripts/test`` starts those).

python -m regstore.testsuite emulators   the emulator names, space separated
python -m regstore.testsuite list        one line per backend: name, driver, emulators, package
"""

from __future__ import annotations

import sys

from .backends import declared_backends, needed_emulators


def main(argv: list[str]) -> int:
    """Print what ``argv`` asks for; the usage and 2 for anything else."""
    if argv == ["emulators"]:
        print(" ".join(needed_emulators()))
        return 0
    if argv == ["list"]:
        for backend in declared_backends():
            needs = " ".join(backend.emulators) or "-"
            print(f"{backend.name}\t{backend.driver}\t{needs}\t{backend.distribution}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
