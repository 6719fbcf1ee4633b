"""The workloads, the same for every backend: one table of cases, run by one loop.

Distribution set (``registry/storage/driver/testsuites`` benchmarks): put+get
and stream write+read of 0 B, 1 KiB and 1 MiB; list of 5 and 50 files; delete
of 5 and 50 files. Scale: a big stream written and read, 2,000 x 1 KiB
put+get, a walk of a registry-shaped tree, a list of a 10,000-entry
directory and a delete of a 10,000-file tree.

Each kind of case says what it prepares (untimed), what one contender's timed
run does, and what it removes afterwards. Trees that are only read (list,
walk) are made once for every contender of a backend that shares one
namespace; a delete needs a fresh tree per contender and round, and those are
made in parallel before each round.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count

from .backend import Backend
from .clients import Client
from .plan import KiB, MiB, Plan, human, registry_tree
from .timing import Result, Row, Timed, measure

__all__ = ["NotMeasured", "run_cases"]

Progress = Callable[[str], None]
#: The content of every file of a tree (the size of a registry link file, about).
TREE_DATA = b"x" * 64


class NotMeasured(Exception):
    """A contender that is not timed in a case (the reason shows in the notes)."""


@dataclass
class Context:
    """What the cases of one backend share: its contenders, progress, trees to reuse."""

    backend: Backend
    progress: Progress
    #: Registry trees a walk made that nobody reads any more, by file count: a delete takes them.
    spare: dict[int, list[str]] = field(default_factory=dict)
    #: Directories to remove when the backend's cases are done (if a later case did not).
    leftovers: list[tuple[Client, str]] = field(default_factory=list)
    _serial: count[int] = field(default_factory=count)

    def fresh(self, name: str) -> str:
        """A directory name no earlier case or round used."""
        return f"{name}-{next(self._serial)}"

    def say(self, message: str) -> None:
        self.progress(f"{self.backend.label}: {message}")

    def make_trees(self, rels: Sequence[str], clients: Sequence[Client]) -> dict[str, str]:
        """A tree of ``rels`` for each client: one for all on a shared namespace."""
        if not clients:
            return {}
        if len(rels) > 1000:
            self.say(f"populating {len(rels):,} files")
        if self.backend.shared:
            tree = self.fresh("tree")
            self.backend.populate(clients[0], [f"{tree}/{rel}" for rel in rels], TREE_DATA)
            return {c.label: tree for c in clients}
        trees = {c.label: self.fresh("tree") for c in clients}
        for c in clients:
            self.backend.populate(c, [f"{trees[c.label]}/{rel}" for rel in rels], TREE_DATA)
        return trees

    def drop_trees(self, trees: dict[str, str]) -> None:
        """Remove what ``make_trees`` made (each distinct tree once)."""
        by_tree = {tree: label for label, tree in trees.items()}
        clients = {c.label: c for c in self.backend.contenders}
        for tree, label in by_tree.items():
            self.backend.discard(clients[label], tree)


def _limited(client: Client, files: int) -> bool:
    return client.scale_limit is not None and files > client.scale_limit


def _skip(client: Client) -> Timed:
    """A placeholder for a contender not timed on this many files (see ``scale_limit``)."""

    def skip() -> None:
        raise NotMeasured(f"skipped: more than {client.scale_limit:,} files")

    return Timed(client.label, client.role, skip)


class Case:
    """One row of a table: untimed ``prepare``/``before_round``/``finish`` around timed runs."""

    group = "distribution"
    name = ""
    work = ""
    rounds = 1

    def prepare(self, ctx: Context) -> None:
        """Make what every contender's runs need (untimed)."""

    def timed(self, ctx: Context, client: Client) -> Timed:
        raise NotImplementedError

    def before_round(self, ctx: Context, clients: Sequence[Client]) -> None:
        """Make what the coming round needs for the contenders that run in it (untimed)."""

    def finish(self, ctx: Context) -> None:
        """Remove what the case made (untimed)."""


class PutGet(Case):
    """``ops`` puts, each read back, under a fresh directory per run."""

    def __init__(self, group: str, name: str, size: int, ops: int, rounds: int) -> None:
        self.group, self.name, self.rounds = group, name, rounds
        self.work = f"{ops} x (put, get)"
        self.data = os.urandom(size)
        self.ops = ops

    def timed(self, ctx: Context, client: Client) -> Timed:
        base = ctx.fresh("pg")
        data, ops = self.data, self.ops

        def run() -> None:
            for i in range(ops):
                rel = f"{base}/f{i:05d}"
                client.put(rel, data)
                if len(client.get(rel)) != len(data):
                    raise AssertionError(f"{client.label}: get returned the wrong size")

        return Timed(
            client.label, client.role, run, cleanup=lambda: ctx.backend.discard(client, base)
        )


class StreamPair(Case):
    """``ops`` streams written (1 MiB at a time, commit) and read back through a 1 MiB buffer."""

    def __init__(self, size: int, ops: int, rounds: int) -> None:
        self.name, self.rounds = f"stream write+read {human(size)}", rounds
        self.work = f"{ops} x (stream write, stream read)"
        self.block = os.urandom(max(size, 1))
        self.size, self.ops = size, ops

    def timed(self, ctx: Context, client: Client) -> Timed:
        base = ctx.fresh("st")
        buffer = bytearray(MiB)
        block, size, ops = self.block, self.size, self.ops

        def run() -> None:
            for i in range(ops):
                rel = f"{base}/f{i:05d}"
                client.write_stream(rel, block, size)
                if client.read_stream(rel, buffer) != size:
                    raise AssertionError(f"{client.label}: read back the wrong size")

        return Timed(
            client.label, client.role, run, cleanup=lambda: ctx.backend.discard(client, base)
        )


@dataclass
class BigFile:
    """The big stream: written by one case, read by the next."""

    size: int
    block: bytes = field(default_factory=lambda: os.urandom(4 * MiB))
    names: dict[str, str] = field(default_factory=dict)


class StreamWrite(Case):
    group = "scale"

    def __init__(self, big: BigFile, rounds: int) -> None:
        self.big, self.rounds = big, rounds
        self.name = f"stream write {human(big.size)}"
        self.work = f"write {human(big.size)} in {human(len(big.block))} writes, commit"

    def prepare(self, ctx: Context) -> None:
        self.big.names = {c.label: ctx.fresh("big") + "/blob" for c in ctx.backend.contenders}
        ctx.leftovers += [
            (c, self.big.names[c.label].split("/")[0]) for c in ctx.backend.contenders
        ]

    def timed(self, ctx: Context, client: Client) -> Timed:
        rel, big = self.big.names[client.label], self.big
        return Timed(
            client.label, client.role, lambda: client.write_stream(rel, big.block, big.size)
        )


class StreamRead(Case):
    group = "scale"

    def __init__(self, big: BigFile, rounds: int) -> None:
        self.big, self.rounds = big, rounds
        self.name = f"stream read {human(big.size)}"
        self.work = f"read {human(big.size)} in 1 MiB reads"

    def prepare(self, ctx: Context) -> None:
        if self.big.names:
            return
        # Selected without the write case (--case read): write the files untimed.
        self.big.names = {c.label: ctx.fresh("big") + "/blob" for c in ctx.backend.contenders}
        for c in ctx.backend.contenders:
            try:
                c.write_stream(self.big.names[c.label], self.big.block, self.big.size)
            except Exception as exc:
                ctx.say(f"{c.label} could not write the file to read: {exc}")

    def timed(self, ctx: Context, client: Client) -> Timed:
        rel, buffer = self.big.names[client.label], bytearray(MiB)
        return Timed(client.label, client.role, lambda: client.read_stream(rel, buffer))

    def finish(self, ctx: Context) -> None:
        for c in ctx.backend.contenders:
            ctx.backend.discard(c, self.big.names[c.label].split("/")[0])
        self.big.names = {}


class ListDir(Case):
    """``repeats`` listings of a directory of ``files`` files, made once before the case."""

    def __init__(self, group: str, files: int, repeats: int, rounds: int) -> None:
        self.group, self.files, self.repeats, self.rounds = group, files, repeats, rounds
        self.name = (
            f"list {files} files" if group == "distribution" else f"list {files:,}-entry directory"
        )
        self.work = f"{repeats} x list" if repeats > 1 else "list once"
        self.trees: dict[str, str] = {}

    def prepare(self, ctx: Context) -> None:
        clients = [c for c in ctx.backend.contenders if not _limited(c, self.files)]
        self.trees = ctx.make_trees([f"f{i:06d}" for i in range(self.files)], clients)

    def timed(self, ctx: Context, client: Client) -> Timed:
        if client.label not in self.trees:
            return _skip(client)
        rel, repeats = self.trees[client.label], self.repeats

        def run() -> None:
            for _ in range(repeats):
                client.list(rel)

        return Timed(client.label, client.role, run)

    def finish(self, ctx: Context) -> None:
        ctx.drop_trees(self.trees)


class Walk(Case):
    """A walk of a registry-shaped tree, made once; kept for a delete of the same size."""

    group = "scale"
    work = "walk the whole tree"

    def __init__(self, files: int, rounds: int) -> None:
        self.files, self.rounds = files, rounds
        self.name = f"walk {files:,}-file registry tree"
        self.trees: dict[str, str] = {}

    def prepare(self, ctx: Context) -> None:
        clients = [c for c in ctx.backend.contenders if not _limited(c, self.files)]
        self.trees = ctx.make_trees(registry_tree(self.files), clients)

    def timed(self, ctx: Context, client: Client) -> Timed:
        if client.label not in self.trees:
            return _skip(client)
        rel = self.trees[client.label]
        return Timed(client.label, client.role, lambda: client.walk(rel))

    def finish(self, ctx: Context) -> None:
        if ctx.backend.shared and not ctx.backend.page_cache and self.trees:
            ctx.spare.setdefault(self.files, []).extend(set(self.trees.values()))
        else:
            ctx.drop_trees(self.trees)


class DeleteTree(Case):
    """A delete of a whole directory; every contender deletes a fresh copy each round.

    On the object stores a round's copies are made in parallel before it; on the
    filesystem each right before its delete (see ``Backend.page_cache``).
    """

    def __init__(self, group: str, name: str, rels: Sequence[str], rounds: int, work: str) -> None:
        self.group, self.name, self.rels, self.rounds, self.work = group, name, rels, rounds, work
        self.current: dict[str, str] = {}
        self.made: list[tuple[Client, str]] = []

    def timed(self, ctx: Context, client: Client) -> Timed:
        if _limited(client, len(self.rels)):
            return _skip(client)
        setup = None
        if ctx.backend.page_cache:

            def setup() -> None:
                self._make(ctx, [client])

        return Timed(
            client.label,
            client.role,
            lambda: client.delete(self.current[client.label]),
            setup=setup,
        )

    def before_round(self, ctx: Context, clients: Sequence[Client]) -> None:
        if not ctx.backend.page_cache:
            self._make(ctx, [c for c in clients if not _limited(c, len(self.rels))])

    def _make(self, ctx: Context, clients: Sequence[Client]) -> None:
        """A fresh tree for each of ``clients`` (a walk's tree of the same size, if one is left)."""
        spare = ctx.spare.get(len(self.rels), []) if self.group == "scale" else []
        todo: list[tuple[Client, str]] = []
        for c in clients:
            if spare:
                self.current[c.label] = spare.pop()
            else:
                self.current[c.label] = ctx.fresh("del")
                todo.append((c, self.current[c.label]))
            self.made.append((c, self.current[c.label]))
        if len(self.rels) > 1000 and todo:
            ctx.say(f"populating {len(todo)} x {len(self.rels):,} files")

        def make(job: tuple[Client, str]) -> None:
            client, base = job
            ctx.backend.populate(client, [f"{base}/{rel}" for rel in self.rels], TREE_DATA)

        with ThreadPoolExecutor(max(1, len(todo))) as pool:
            list(pool.map(make, todo))

    def finish(self, ctx: Context) -> None:
        for client, base in self.made:  # what a failed delete left behind
            ctx.backend.discard(client, base)
        self.made = []


def case_table(plan: Plan) -> list[Case]:
    """Every case of a run, in order."""
    cases: list[Case] = []
    sizes = (0, KiB, MiB)
    for size in sizes:
        ops = plan.mib_ops if size >= MiB else plan.small_ops
        cases.append(PutGet("distribution", f"put+get {human(size)}", size, ops, plan.rounds))
    for size in sizes:
        ops = plan.mib_ops if size >= MiB else plan.small_ops
        cases.append(StreamPair(size, ops, plan.rounds))
    for files in (5, 50):
        cases.append(ListDir("distribution", files, plan.list_repeats, plan.rounds))
    for files in (5, 50):
        flat = [f"f{i:05d}" for i in range(files)]
        work = f"delete a directory of {files} files"
        cases.append(DeleteTree("distribution", f"delete {files} files", flat, plan.rounds, work))
    big = BigFile(plan.stream_size)
    cases += [
        StreamWrite(big, plan.stream_rounds or plan.big_rounds),
        StreamRead(big, plan.stream_rounds or plan.scale_rounds),
    ]
    name = f"{plan.many_small:,} x 1 KiB put+get"
    cases.append(PutGet("scale", name, KiB, plan.many_small, plan.scale_rounds))
    cases.append(Walk(plan.walk_files, plan.walk_rounds or plan.scale_rounds))
    cases.append(ListDir("scale", plan.list_entries, 1, plan.list_rounds or plan.scale_rounds))
    tree = registry_tree(plan.delete_files)
    name = f"delete {plan.delete_files:,}-file tree"
    cases.append(DeleteTree("scale", name, tree, plan.big_rounds, "delete the whole tree"))
    return cases


def run_cases(
    backend: Backend,
    plan: Plan,
    progress: Progress,
    only: Callable[[str], bool] = lambda case: True,
) -> tuple[list[Row], dict[str, float]]:
    """Every selected case on ``backend``: one ``Row`` per case, and each case's wall time."""
    ctx = Context(backend, progress)
    clients = backend.contenders
    notes = "; ".join(f"{c.label}: {c.note}" for c in clients if c.note)
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    for case in case_table(plan):
        if not only(case.name):
            continue
        began = time.monotonic()
        ctx.say(case.name)
        try:
            case.prepare(ctx)
            timed = [case.timed(ctx, c) for c in clients]
            for entry, client in zip(timed, clients, strict=True):
                entry.settle = client.settle

            def hook(order: list[int], case: Case = case) -> None:
                case.before_round(ctx, [clients[i] for i in order])

            results = measure(timed, case.rounds, hook)
        except Exception as exc:  # the case could not be prepared: every contender fails it
            error = f"setup failed: {type(exc).__name__}: {exc}"[:300]
            results = [Result(c.label, c.role, error=error) for c in clients]
        finally:
            case.finish(ctx)
        row = Row(backend.label, case.group, case.name, clients[0].label, results, case.work)
        row.note = notes
        rows.append(row)
        seconds[case.name] = time.monotonic() - began
    for trees in ctx.spare.values():
        ctx.leftovers += [(backend.baseline, tree) for tree in trees]
    for client, rel in ctx.leftovers:
        backend.discard(client, rel)
    return rows, seconds
