"""What a run measures: sizes, counts and rounds, for a full run and for ``--quick``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

__all__ = ["KiB", "MiB", "GiB", "Plan", "human", "plan_for", "registry_tree"]

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one run on one backend."""

    quick: bool
    rounds: int  # rounds of the distribution set (best of them is kept)
    scale_rounds: int  # rounds of the scale cases
    big_rounds: int  # rounds of the biggest stream and of the big deletes
    small_ops: int  # put+get and stream operations per timed run (0 B, 1 KiB)
    mib_ops: int  # the same for 1 MiB
    list_repeats: int  # list calls per timed run of "list 5/50"
    stream_size: int  # the scale stream (1 GiB in a full run)
    many_small: int  # the scale "2,000 x 1 KiB put+get"
    walk_files: int  # files in the registry-shaped tree
    list_entries: int  # entries of the big directory
    delete_files: int  # files in the big tree that is deleted
    rss_size: int  # the stream whose peak RSS is measured
    stream_rounds: int = 0  # rounds of the big stream's write and read, when set
    list_rounds: int = 0  # rounds of the big directory's listing, when set
    walk_rounds: int = 0  # rounds of the registry-tree walk, when set


FULL = Plan(
    quick=False,
    rounds=5,
    scale_rounds=3,
    big_rounds=2,
    small_ops=50,
    mib_ops=10,
    list_repeats=20,
    stream_size=GiB,
    many_small=2000,
    walk_files=50_000,
    list_entries=10_000,
    delete_files=10_000,
    rss_size=GiB,
    list_rounds=7,
)

QUICK = Plan(
    quick=True,
    rounds=1,
    scale_rounds=1,
    big_rounds=1,
    small_ops=2,
    mib_ops=1,
    list_repeats=2,
    stream_size=8 * MiB,
    many_small=20,
    walk_files=200,
    list_entries=100,
    delete_files=100,
    rss_size=32 * MiB,
)


def plan_for(backend: str, quick: bool) -> Plan:
    """The plan of a backend: object-store emulators get 10,000-object scale cases.

    Creating 50,000 objects on an emulator takes minutes per contender, so the
    walk of the object stores uses 10,000 keys (the size the S3 targets name),
    and each big delete (which needs a fresh 10,000-object tree per contender
    and round) runs once. S3's target names a 1 GiB upload; Azure and GCS
    stream 256 MiB, which is 64 blocks or 16 parts: past every threshold. The
    filesystem streams 256 MiB, the size issue #15's target names, in seven
    rounds: a write with fsync swings 2x-5x with other I/O on the disk. For the
    same reason its distribution set, milliseconds a round, runs nine rounds.
    The big listing runs seven rounds everywhere: its directory is made once,
    and one listing of it takes at most a second and a half.
    """
    plan = QUICK if quick else FULL
    if quick:
        return plan
    if backend == "inmemory":
        return replace(plan, stream_size=256 * MiB)
    if backend == "filesystem":
        return replace(
            plan,
            rounds=9,
            big_rounds=5,
            scale_rounds=5,
            stream_size=256 * MiB,
            stream_rounds=7,
            walk_rounds=9,
        )
    stream = GiB if backend == "s3" else 256 * MiB
    return replace(
        plan, walk_files=10_000, rounds=3, scale_rounds=2, big_rounds=1, stream_size=stream
    )


def human(size: int) -> str:
    """``1 KiB``, ``16 MiB``, ``1 GiB``, ``0 B``."""
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def registry_tree(count: int) -> list[str]:
    """``count`` relative file paths laid out as a distribution registry lays out its storage.

    About 40% blob data files (``blobs/sha256/ab/<digest>/data``), 35% layer
    links, 15% manifest revision links and 10% tag links, in 50 repositories.
    """
    root = "docker/registry/v2"
    paths: list[str] = []
    repos = [f"library/app{n:02d}" for n in range(50)]
    for i in range(count):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        repo = repos[i % len(repos)]
        kind = i % 20
        if kind < 8:
            paths.append(f"{root}/blobs/sha256/{digest[:2]}/{digest}/data")
        elif kind < 15:
            paths.append(f"{root}/repositories/{repo}/_layers/sha256/{digest}/link")
        elif kind < 18:
            paths.append(f"{root}/repositories/{repo}/_manifests/revisions/sha256/{digest}/link")
        elif kind == 18:
            paths.append(f"{root}/repositories/{repo}/_manifests/tags/t{i}/current/link")
        else:
            paths.append(
                f"{root}/repositories/{repo}/_manifests/tags/t{i - 1}/index/sha256/{digest}/link"
            )
    return paths
