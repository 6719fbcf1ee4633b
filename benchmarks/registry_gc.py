"""Garbage collection: regstore's ``collect`` against the Go registry's ``garbage-collect``.

One generated tree (``registry_tree``) is written twice, to two roots of the same
store; Debian's ``docker-registry garbage-collect`` runs on one, regstore's
``collect(grace=0)`` on the other, one after the other in the same run. Both
must keep exactly the expected blobs and leave the same files. A full run
makes three such rounds on fresh copies, the two collectors in alternating
order, each started once the machine is quiet again (the server done with
the writes and the other's deletes), and keeps the best time of each, as the
other benchmarks do. Target:
regstore takes at most a tenth of Go's time.

    scripts/bench --registry-gc [--quick]    (radosgw from REGSTORE_TEST_RGW_*)
    python -m benchmarks.registry_gc --backend filesystem --repositories 20
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import regstore

from .machine import wait_until_quiet
from .registry_tree import generate

__all__ = ["Outcome", "Side", "main", "print_table", "run"]

V2 = "docker/registry/v2"
#: Repositories of the full run (~3,600 kept blobs, ~17,000 keys) and of ``--quick``.
FULL_REPOSITORIES = 150
QUICK_REPOSITORIES = 10
#: Rounds of a full run and of ``--quick`` (each on two fresh copies of the tree).
FULL_ROUNDS = 3
QUICK_ROUNDS = 1
#: regstore must take at most this share of Go's time.
TARGET_RATIO = 0.1
_SUMMARY = re.compile(r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible")


@dataclass
class Side:
    """One collector's run: wall time, blobs marked and deleted."""

    name: str
    seconds: float
    marked: int
    deleted: int
    #: The machine's one-minute load average as the side started and ended.
    load: tuple[float, float] = (0.0, 0.0)
    #: regstore only: seconds until marking was done (the rest is the sweep).
    marking: float | None = None
    #: Which round (from 1) this run belongs to.
    round: int = 1


@dataclass
class Outcome:
    """The figures of one comparison and whether both collectors agreed with the expectation."""

    backend: str
    repositories: int
    files: int
    kept: int
    garbage: int
    sides: list[Side] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def best(self, name: str) -> Side | None:
        """The fastest run of the collector ``name``."""
        runs = [side for side in self.sides if side.name == name]
        return min(runs, key=lambda side: side.seconds) if runs else None

    @property
    def ratio(self) -> float | None:
        """regstore's best time over Go's best time."""
        go, ours = self.best("go"), self.best("regstore")
        if go is None or ours is None or go.seconds <= 0:
            return None
        return ours.seconds / go.seconds


class _Target:
    """Where the two copies live: two folders, or two prefixes of one S3 bucket."""

    name = ""

    def write(self, root: str, files: Mapping[str, bytes]) -> None:
        raise NotImplementedError

    def storage(self, root: str) -> dict[str, Any]:
        raise NotImplementedError

    def parameters(self, root: str) -> dict[str, Any]:
        raise NotImplementedError

    def files(self, root: str) -> set[str]:
        raise NotImplementedError

    def driver_name(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Remove everything the run wrote."""


class _Folders(_Target):
    name = "filesystem"

    def __init__(self, workdir: Path) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="registry-gc-", dir=workdir))

    def write(self, root: str, files: Mapping[str, bytes]) -> None:
        base = self.base / root / V2
        for relative, data in files.items():
            path = base / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def storage(self, root: str) -> dict[str, Any]:
        return {"filesystem": {"rootdirectory": str(self.base / root)}}

    def parameters(self, root: str) -> dict[str, Any]:
        return {"rootdirectory": str(self.base / root)}

    def files(self, root: str) -> set[str]:
        base = self.base / root / V2
        return {
            (Path(folder) / name).relative_to(base).as_posix()
            for folder, _, names in os.walk(base)
            for name in names
        }

    def driver_name(self) -> str:
        return "filesystem"

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


class _Radosgw(_Target):
    name = "s3 (radosgw)"

    def __init__(self, endpoint: str, access_key: str, secret_key: str) -> None:
        import boto3
        from botocore.config import Config

        self.endpoint, self.access_key, self.secret_key = endpoint, access_key, secret_key
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard"},
                max_pool_connections=32,
            ),
        )
        self.bucket = f"registry-gc-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=self.bucket)

    def write(self, root: str, files: Mapping[str, bytes]) -> None:
        def put(item: tuple[str, bytes]) -> None:
            self.client.put_object(Bucket=self.bucket, Key=f"{root}/{V2}/{item[0]}", Body=item[1])

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(put, files.items()))

    def storage(self, root: str) -> dict[str, Any]:
        return {
            "s3": {
                "region": "us-east-1",
                "regionendpoint": self.endpoint,
                "accesskey": self.access_key,
                "secretkey": self.secret_key,
                "bucket": self.bucket,
                "rootdirectory": f"/{root}",
                "forcepathstyle": True,
                "secure": False,
                "v4auth": True,
            }
        }

    def parameters(self, root: str) -> dict[str, Any]:
        return {
            "region": "us-east-1",
            "regionendpoint": self.endpoint,
            "accesskey": self.access_key,
            "secretkey": self.secret_key,
            "bucket": self.bucket,
            "rootdirectory": f"/{root}",
        }

    def _keys(self, prefix: str) -> Iterable[str]:
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield item["Key"]

    def files(self, root: str) -> set[str]:
        prefix = f"{root}/{V2}/"
        return {key[len(prefix) :] for key in self._keys(prefix)}

    def driver_name(self) -> str:
        return "s3"

    def close(self) -> None:
        from regstore_s3.testing import empty_bucket

        empty_bucket(self.client, self.bucket)
        self.client.delete_bucket(Bucket=self.bucket)


def _go_collect(target: _Target, root: str, workdir: Path) -> Side:
    config = workdir / f"registry-gc-{root}.yml"
    # JSON is YAML: no YAML library needed for the registry's config file.
    config.write_text(json.dumps({"version": "0.1", "storage": target.storage(root)}))
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(
        ["docker-registry", "garbage-collect", str(config)],
        capture_output=True,
        text=True,
        check=False,
        # A CA bundle from the environment makes the registry's AWS SDK refuse plain HTTP.
        env={k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
    )
    seconds = time.perf_counter() - started
    config.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"docker-registry garbage-collect failed: {done.stdout[-800:]}")
    summary = _SUMMARY.search(done.stdout)
    marked, deleted = (int(summary[1]), int(summary[2])) if summary else (-1, -1)
    return Side("go", seconds, marked, deleted, (load, os.getloadavg()[0]))


def _regstore_collect(target: _Target, root: str) -> Side:
    from regstore.registry.gc import collect

    load = os.getloadavg()[0]
    stages: dict[str, float] = {}

    def progress(stage: str, count: int) -> None:
        stages[stage] = time.perf_counter()  # the last report of each stage

    started = time.perf_counter()
    with regstore.create(target.driver_name(), target.parameters(root)) as driver:
        report = collect(driver, grace=timedelta(0), progress=progress)
    seconds = time.perf_counter() - started
    marked = report.marked if isinstance(report.marked, int) else len(report.marked)
    # Marking reports its count once more as it ends.
    marking = stages["mark"] - started if "mark" in stages else None
    deleted = len(report.blobs_deleted)
    return Side("regstore", seconds, marked, deleted, (load, os.getloadavg()[0]), marking)


def _collected(files: set[str]) -> set[str]:
    """What both collectors decide on: everything but ``_layers`` links (a mode choice)."""
    return {path for path in files if "/_layers/" not in path}


def _blobs(files: set[str]) -> set[str]:
    return {
        "sha256:" + path.split("/")[3]
        for path in files
        if path.startswith("blobs/sha256/") and path.endswith("/data")
    }


def run(
    target: _Target,
    repositories: int,
    workdir: Path,
    say: Callable[[str], None],
    rounds: int = 1,
) -> Outcome:
    """Per round, write the tree to two roots, collect one with Go and one with regstore
    (Go first in odd rounds, regstore first in even ones), and compare the results."""
    tree = generate(repositories)
    outcome = Outcome(target.name, repositories, len(tree.files), len(tree.kept), len(tree.garbage))
    for number in range(1, rounds + 1):
        roots = {"go": f"go{number}", "regstore": f"regstore{number}"}
        say(f"registry gc, round {number}: writing {len(tree.files):,} files twice")
        for root in roots.values():
            target.write(root, tree.files)
        order = ("go", "regstore") if number % 2 else ("regstore", "go")
        for name in order:
            waited = wait_until_quiet()
            say(f"registry gc, round {number}: {name} collects (after {waited:.0f} s of quiet)")
            if name == "go":
                side = _go_collect(target, roots["go"], workdir)
            else:
                side = _regstore_collect(target, roots["regstore"])
            side.round = number
            outcome.sides.append(side)
        outcome.problems += _compare(target, roots, tree.kept, number)
    return outcome


def _compare(target: _Target, roots: dict[str, str], kept: set[str], number: int) -> list[str]:
    """What went wrong in one round: blobs kept or deleted wrongly, files that differ."""
    problems = []
    left = {name: target.files(root) for name, root in roots.items()}
    for name, files in left.items():
        if _blobs(files) != kept:
            missing, extra = kept - _blobs(files), _blobs(files) - kept
            problems.append(
                f"round {number}, {name}: {len(missing)} kept blobs deleted,"
                f" {len(extra)} garbage blobs left"
            )
    differ = _collected(left["go"]) ^ _collected(left["regstore"])
    if differ:
        problems.append(
            f"round {number}: go and regstore left different files, e.g. {sorted(differ)[:3]}"
        )
    return problems


def print_table(outcome: Outcome) -> None:
    """The side-by-side table: time, blobs marked and deleted, regstore's share of Go's time."""
    print(
        f"\nregistry garbage collection on {outcome.backend}: {outcome.repositories} repositories,"
        f" {outcome.files:,} files, {outcome.kept:,} blobs to keep, {outcome.garbage:,} to delete"
    )
    print(f"{'round':<7}{'collector':<28}{'time':>10}{'marked':>10}{'deleted':>10}{'load avg':>16}")
    for side in outcome.sides:
        label = "docker-registry 2.8 (Go)" if side.name == "go" else "regstore collect"
        load = f"{side.load[0]:.1f} to {side.load[1]:.1f}"
        print(
            f"{side.round:<7}{label:<28}{side.seconds:>9.2f}s{side.marked:>10,}"
            f"{side.deleted:>10,}{load:>16}"
        )
        if side.marking is not None:
            sweep = side.seconds - side.marking
            print(f"{'':<11}marking done at {side.marking:.2f} s, then the sweep {sweep:.2f} s")
    ratio, go, ours = outcome.ratio, outcome.best("go"), outcome.best("regstore")
    if ratio is not None and go is not None and ours is not None:
        verdict = "met" if ratio <= TARGET_RATIO else "missed"
        print(
            f"regstore / Go, best of each: {ours.seconds:.2f} s / {go.seconds:.2f} s"
            f" = {ratio:.3f} (target <= {TARGET_RATIO}: {verdict})"
        )
    print("same result: " + ("yes" if not outcome.problems else "; ".join(outcome.problems)))


def measure(
    *,
    quick: bool,
    workdir: Path,
    say: Callable[[str], None],
    backend: str = "",
    repositories: int = 0,
    rounds: int = 0,
) -> Outcome:
    """One comparison: ``--quick`` a small tree on the filesystem, else 150 repos on radosgw."""
    if shutil.which("docker-registry") is None:
        raise RuntimeError("docker-registry not installed: run scripts/install-emulators as root")
    backend = backend or ("filesystem" if quick else "rgw")
    repositories = repositories or (QUICK_REPOSITORIES if quick else FULL_REPOSITORIES)
    rounds = rounds or (QUICK_ROUNDS if quick else FULL_ROUNDS)
    target: _Target
    if backend == "filesystem":
        target = _Folders(workdir)
    else:
        names = ("REGSTORE_TEST_RGW_ENDPOINT", "REGSTORE_TEST_RGW_ACCESS_KEY")
        missing = [
            name for name in (*names, "REGSTORE_TEST_RGW_SECRET_KEY") if not os.environ.get(name)
        ]
        if missing:
            raise RuntimeError(f"radosgw not configured ({', '.join(missing)} unset)")
        target = _Radosgw(
            os.environ["REGSTORE_TEST_RGW_ENDPOINT"],
            os.environ["REGSTORE_TEST_RGW_ACCESS_KEY"],
            os.environ["REGSTORE_TEST_RGW_SECRET_KEY"],
        )
    try:
        return run(target, repositories, workdir, say, rounds)
    finally:
        target.close()


def to_json(outcome: Outcome) -> dict[str, Any]:
    """The outcome for the results file."""
    return {**asdict(outcome), "ratio": outcome.ratio}


def main(argv: list[str] | None = None) -> int:
    """Run one comparison and print its table; exit 1 when the results differ."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.registry_gc", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="10 repositories (default backend: filesystem)"
    )
    parser.add_argument(
        "--backend", choices=("filesystem", "rgw"), help="where the tree is written"
    )
    parser.add_argument("--repositories", type=int, help="repositories in the tree")
    parser.add_argument("--rounds", type=int, help="rounds (default: 3, --quick: 1)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    outcome = measure(
        quick=args.quick,
        workdir=args.workdir,
        say=say,
        backend=args.backend or "",
        repositories=args.repositories or 0,
        rounds=args.rounds or 0,
    )
    print_table(outcome)
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    sys.exit(main())
