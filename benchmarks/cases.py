"""The workloads, the same for every backend: the distribution registry's set, then scale.

Distribution set (``registry/storage/driver/testsuites`` benchmarks): put+get
and stream write+read of 0 B, 1 KiB and 1 MiB; list of 5 and 50 files; delete
of 5 and 50 files. Scale: a big stream written and read, 2,000 x 1 KiB
put+get, a walk of a registry-shaped tree, a list of a 10,000-entry
directory and a delete of a 10,000-file tree.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from itertools import count

from .clients import Client
from .plan import KiB, MiB, Plan, human, registry_tree
from .timing import Row, Timed, measure

__all__ = ["run_cases"]

Progress = Callable[[str], None]
_serial = count()


def _fresh(name: str) -> str:
    """A directory name no earlier case or round used."""
    return f"{name}-{next(_serial)}"


def run_cases(
    backend: str,
    clients: Sequence[Client],
    plan: Plan,
    progress: Progress,
    only: Callable[[str], bool] = lambda case: True,
) -> list[Row]:
    """Every case on ``clients`` (the first is the baseline); one ``Row`` per case."""
    rows: list[Row] = []
    baseline = clients[0].label
    notes = {c.label: c.note for c in clients if c.note}

    def add(group: str, case: str, timed: Sequence[Timed], rounds: int, work: str) -> None:
        if not only(case):
            return
        progress(f"{backend}: {case}")
        for entry, client in zip(timed, clients, strict=True):
            entry.settle = client.settle
        results = measure(timed, rounds)
        rows.append(Row(backend, group, case, baseline, results, work=work))

    # -- the distribution registry's benchmark set ----------------------------------
    for size in (0, KiB, MiB):
        ops = plan.mib_ops if size >= MiB else plan.small_ops
        data = os.urandom(size)
        add(
            "distribution",
            f"put+get {human(size)}",
            [_put_get(c, data, ops) for c in clients],
            plan.rounds,
            f"{ops} x (put, get)",
        )
    for size in (0, KiB, MiB):
        ops = plan.mib_ops if size >= MiB else plan.small_ops
        block = os.urandom(max(size, 1))
        add(
            "distribution",
            f"stream write+read {human(size)}",
            [_stream_pair(c, block, size, ops) for c in clients],
            plan.rounds,
            f"{ops} x (stream write, stream read)",
        )
    for files in (5, 50):
        case = f"list {files} files"
        if only(case):
            dirs = _populate_all(clients, files, progress, backend)
            add(
                "distribution",
                case,
                [_list(c, dirs[c.label], plan.list_repeats) for c in clients],
                plan.rounds,
                f"{plan.list_repeats} x list",
            )
            _delete_all(clients, dirs)
    for files in (5, 50):
        add(
            "distribution",
            f"delete {files} files",
            [_delete_tree(c, [f"f{i:05d}" for i in range(files)]) for c in clients],
            plan.rounds,
            f"delete a directory of {files} files",
        )

    # -- scale --------------------------------------------------------------------
    size = plan.stream_size
    block = os.urandom(4 * MiB)
    write_case, read_case = f"stream write {human(size)}", f"stream read {human(size)}"
    if only(write_case) or only(read_case):
        names = {c.label: _fresh("big") + "/blob" for c in clients}
        add(
            "scale",
            write_case,
            [_stream_write(c, names[c.label], block, size) for c in clients],
            plan.big_rounds,
            f"write {human(size)} in 1 MiB writes, commit",
        )
        add(
            "scale",
            read_case,
            [_stream_read(c, names[c.label]) for c in clients],
            plan.scale_rounds,
            f"read {human(size)} in 1 MiB reads",
        )
        for c in clients:
            _quietly(c.delete, names[c.label].split("/")[0])
    data = os.urandom(KiB)
    add(
        "scale",
        f"{plan.many_small:,} x 1 KiB put+get",
        [_put_get(c, data, plan.many_small) for c in clients],
        plan.scale_rounds,
        f"{plan.many_small} x (put, get)",
    )
    case = f"walk {plan.walk_files:,}-file registry tree"
    if only(case):
        tree = registry_tree(plan.walk_files)
        dirs = {c.label: _fresh("tree") for c in clients}
        for c in clients:
            if c.scale_limit is not None and len(tree) > c.scale_limit:
                continue
            progress(f"{backend}: populating {len(tree):,} files for {c.label}")
            c.populate([f"{dirs[c.label]}/{rel}" for rel in tree], b"x" * 64)
        add(
            "scale",
            case,
            [_walk(c, dirs[c.label], len(tree)) for c in clients],
            plan.scale_rounds,
            "walk the whole tree",
        )
        for c in clients:
            if c.scale_limit is None or len(tree) <= c.scale_limit:
                _quietly(c.delete, dirs[c.label])
    case = f"list {plan.list_entries:,}-entry directory"
    if only(case):
        dirs = _populate_all(clients, plan.list_entries, progress, backend)
        add(
            "scale",
            case,
            [_limited(c, plan.list_entries) or _list(c, dirs[c.label], 1) for c in clients],
            plan.scale_rounds,
            "list once",
        )
        _delete_all(clients, dirs)
    add(
        "scale",
        f"delete {plan.delete_files:,}-file tree",
        [_delete_tree(c, registry_tree(plan.delete_files), progress, backend) for c in clients],
        plan.big_rounds,
        "delete the whole tree",
    )
    for row in rows:
        row.note = "; ".join(f"{label}: {text}" for label, text in notes.items())
    return rows


# -- the timed operations -----------------------------------------------------------


def _put_get(client: Client, data: bytes, ops: int) -> Timed:
    base = _fresh("pg")

    def run() -> None:
        for i in range(ops):
            rel = f"{base}/f{i:05d}"
            client.put(rel, data)
            if len(client.get(rel)) != len(data):
                raise AssertionError(f"{client.label}: get returned the wrong size")

    return Timed(client.label, client.role, run, cleanup=lambda: _quietly(client.delete, base))


def _stream_pair(client: Client, block: bytes, size: int, ops: int) -> Timed:
    base = _fresh("st")
    buffer = bytearray(MiB)

    def run() -> None:
        for i in range(ops):
            rel = f"{base}/f{i:05d}"
            client.write_stream(rel, block, size)
            if client.read_stream(rel, buffer) != size:
                raise AssertionError(f"{client.label}: read back the wrong size")

    return Timed(client.label, client.role, run, cleanup=lambda: _quietly(client.delete, base))


def _stream_write(client: Client, rel: str, block: bytes, size: int) -> Timed:
    return Timed(client.label, client.role, lambda: client.write_stream(rel, block, size))


def _stream_read(client: Client, rel: str) -> Timed:
    buffer = bytearray(MiB)

    def run() -> None:
        client.read_stream(rel, buffer)

    return Timed(client.label, client.role, run)


def _list(client: Client, rel: str, repeats: int) -> Timed:
    def run() -> None:
        for _ in range(repeats):
            client.list(rel)

    return Timed(client.label, client.role, run)


def _walk(client: Client, rel: str, files: int) -> Timed:
    return _limited(client, files) or Timed(client.label, client.role, lambda: client.walk(rel))


def _limited(client: Client, files: int) -> Timed | None:
    """A placeholder for a contender not timed on this many files (see ``scale_limit``)."""
    limit = client.scale_limit
    if limit is None or files <= limit:
        return None

    def skip() -> None:
        raise NotMeasured(f"skipped: more than {limit:,} files")

    return Timed(client.label, client.role, skip)


class NotMeasured(Exception):
    """A contender that is not timed in a case (the reason shows in the notes)."""


def _delete_tree(
    client: Client,
    rels: Sequence[str],
    progress: Progress | None = None,
    backend: str = "",
) -> Timed:
    current: list[str] = []

    def setup() -> None:
        base = _fresh("del")
        if progress is not None:
            progress(f"{backend}: populating {len(rels):,} files for {client.label}")
        client.populate([f"{base}/{rel}" for rel in rels], b"x" * 64)
        current[:] = [base]

    return Timed(client.label, client.role, lambda: client.delete(current[0]), setup=setup)


# -- helpers ------------------------------------------------------------------------


def _populate_all(
    clients: Sequence[Client], files: int, progress: Progress, backend: str
) -> dict[str, str]:
    dirs = {c.label: _fresh("ls") for c in clients}
    for c in clients:
        if c.scale_limit is not None and files > c.scale_limit:
            continue
        if files > 1000:
            progress(f"{backend}: populating {files:,} files for {c.label}")
        c.populate([f"{dirs[c.label]}/f{i:06d}" for i in range(files)], b"x" * 64)
    return dirs


def _delete_all(clients: Sequence[Client], dirs: dict[str, str]) -> None:
    for c in clients:
        _quietly(c.delete, dirs[c.label])  # nothing there for a contender left out


def _quietly(call: Callable[[str], object], arg: str) -> None:
    """Clean up; a contender that failed earlier may have left nothing (its error is recorded)."""
    with contextlib.suppress(Exception):
        call(arg)
