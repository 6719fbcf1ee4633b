"""The runner: pick backends, start their emulators, run the cases, print and save the figures.

    scripts/bench [--driver NAME ...] [--quick] [--output FILE] [--case TEXT]
    scripts/bench --registry-gc [--quick]   only the garbage collection comparison

Every run ends with the garbage collection comparison (``registry_gc``): a small
tree on the filesystem with ``--quick``, else 150 repositories on radosgw.

Emulators are started through ``scripts/emulators.py`` with their own state
folder (``.bench/emulators``), so a test run's emulators are never touched,
and are stopped (by the PIDs recorded there) when the run ends.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import regstore

from .aio import backend_figures, print_figures, slow_backend_figures
from .backend import Backend
from .cases import run_cases
from .digests import digest_rows
from .machine import describe
from .plan import MiB, Plan, human, plan_for
from .procs import import_time, peak_rss
from .report import markdown, print_report, print_stages, write_json
from .stages import Stages
from .sync import verdicts as sync_verdicts
from .targets import check_targets
from .telemetry import telemetry_rows
from .timing import Row

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
DRIVERS = ("filesystem", "inmemory", "s3", "azure", "gcs")
#: The emulators each backend needs (S3: one of them, see --s3-server).
EMULATORS = {"azure": ["azurite"], "gcs": ["fakegcs"]}
#: Fresh interpreters ``import regstore`` is timed in (the best counts).
IMPORT_ROUNDS = 9


_BEGIN = time.monotonic()


def _say(message: str) -> None:
    print(f"bench: [{time.monotonic() - _BEGIN:6.1f} s] {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="regstore benchmarks: ratios to a raw-I/O or raw-SDK baseline, same run.",
    )
    parser.add_argument(
        "--driver", action="append", choices=DRIVERS, help="only this driver (repeatable)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one round: a smoke check"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / ".bench" / "results.json", help="JSON file"
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables as Markdown")
    parser.add_argument("--case", action="append", help="only cases whose name contains this")
    parser.add_argument(
        "--registry-gc",
        action="store_true",
        help="only the garbage collection comparison, regstore vs docker-registry",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="only regstore sync vs rclone sync, filesystem to radosgw (--quick: folder to folder)",
    )
    parser.add_argument(
        "--s3-server",
        choices=("auto", "moto", "rgw", "both"),
        default="auto",
        help="S3 server(s): auto = Ceph radosgw when installed (a real S3 server, whose own"
        " CPU leaves the client's speed visible; moto's hides it), else moto. On radosgw the"
        " big stream is 128 MiB unless --stream-mib says otherwise: its 4 GiB memstore cannot"
        " hold four 1 GiB streams",
    )
    parser.add_argument(
        "--reuse-emulators",
        action="store_true",
        help="use the emulators named by REGSTORE_TEST_* variables already in the environment"
        " (e.g. a test run's, from .emulators/run/env.sh) instead of starting new ones",
    )
    parser.add_argument(
        "--workdir", type=Path, default=REPO / ".bench" / "work", help="filesystem data folder"
    )
    parser.add_argument(
        "--scale-files",
        type=int,
        help="files in the walk, list and delete scale cases (default 50,000 / 10,000)",
    )
    parser.add_argument(
        "--stream-mib",
        type=int,
        help="MiB of the big stream (default 1024 on S3, 128 on radosgw, 256 elsewhere)",
    )
    parser.add_argument("--many-small", type=int, help="the N of 'N x 1 KiB put+get'")
    parser.add_argument(
        "--emulator-state",
        type=Path,
        default=REPO / ".bench" / "emulators",
        help="state folder of the emulators this run starts (one per concurrent run)",
    )
    return parser.parse_args(argv)


def _s3_servers(choice: str, quick: bool) -> list[str]:
    has_rgw = all(shutil.which(tool) for tool in ("radosgw", "ceph-mon", "ceph-osd"))
    if choice == "auto":
        # moto spends more CPU per byte than any client, so on 2 cores it hides the
        # clients' differences: radosgw whenever it is installed.
        return ["rgw"] if has_rgw else ["moto"]
    if choice == "both":
        return ["moto", "rgw"] if has_rgw else ["moto"]
    return [choice]


class Emulators:
    """Start emulators in the benchmark's own state folder; stop exactly those."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.started: list[str] = []
        #: The variables the started emulators exported.
        self.env: dict[str, str] = {}

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "emulators.py"),
                "--state",
                str(self.state),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def start(self, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        _say(f"starting emulators: {' '.join(names)}")
        done = self._cli("start", *names)
        if done.returncode != 0:
            raise RuntimeError(f"could not start {' '.join(names)}: {done.stderr.strip()[-1500:]}")
        self.started.extend(names)
        env: dict[str, str] = {}
        for line in done.stdout.splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                env[key] = shlex.split(value)[0] if value else ""
        self.env.update(env)
        return env

    def stop(self) -> None:
        for key in self.env:
            # A stopped emulator's endpoint must not look like a running one to a later stage.
            os.environ.pop(key, None)
        self.env = {}
        if self.started:
            self._cli("stop", *self.started)
            _say(f"stopped emulators: {' '.join(self.started)}")
            self.started = []


def _bounds(driver: str) -> tuple[int, str] | None:
    """The memory bound of a driver's stream: 4 x its chunk x its parts in flight."""
    if driver == "filesystem":
        from regstore.drivers.filesystem import BUFFER_SIZE

        return 4 * BUFFER_SIZE, f"4 x {human(BUFFER_SIZE)} write buffer"
    if driver == "s3":
        from regstore_s3.config import DEFAULT_UPLOAD_CONCURRENCY as S3_PARTS

        chunk = 10 * MiB  # the default chunksize
        return 4 * chunk * S3_PARTS, f"4 x {human(chunk)} chunksize x {S3_PARTS} parts"
    if driver == "azure":
        from regstore_azure.blocks import MIN_BLOCK_SIZE
        from regstore_azure.config import DEFAULT_UPLOAD_CONCURRENCY as AZURE_BLOCKS

        return (
            4 * MIN_BLOCK_SIZE * AZURE_BLOCKS,
            f"4 x {human(MIN_BLOCK_SIZE)} block x {AZURE_BLOCKS} in flight",
        )
    if driver == "gcs":
        from regstore_gcs.config import DEFAULT_CHUNKSIZE
        from regstore_gcs.writer import PARTS_IN_FLIGHT as GCS_PARTS

        return (
            4 * DEFAULT_CHUNKSIZE * GCS_PARTS,
            f"4 x {human(DEFAULT_CHUNKSIZE)} chunksize x {GCS_PARTS} parts",
        )
    return None


def _memory(driver: str, parameters: dict[str, Any], size: int) -> dict[str, Any]:
    bound = _bounds(driver)
    if bound is None:
        return {}
    _say(f"{driver}: peak RSS of a {human(size)} stream")
    try:
        figures = peak_rss(driver, parameters, size)
    except Exception as exc:
        return {"error": str(exc)[:500]}
    return {**figures, "bound_bytes": bound[0], "bound_rule": bound[1], "size": size}


def _aio(measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """The figures of one regstore.aio measurement, or the error that stopped it."""
    try:
        return measure(*args)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def _only(patterns: list[str] | None) -> Callable[[str], bool]:
    if not patterns:
        return lambda case: True
    return lambda case: any(p.lower() in case.lower() for p in patterns)


def _registry_gc(
    args: argparse.Namespace, emulators: Emulators, workdir: Path
) -> tuple[dict[str, Any], bool]:
    """The garbage collection comparison: its figures, and whether it failed."""
    from . import registry_gc

    try:
        if not args.quick and not os.environ.get("REGSTORE_TEST_RGW_ENDPOINT"):
            os.environ.update(emulators.start(["rgw"]))
        outcome = registry_gc.measure(quick=args.quick, workdir=workdir, say=_say)
    except Exception as exc:
        _say(f"registry gc: not measured: {exc}")
        return {"error": str(exc)[:500]}, True
    finally:
        emulators.stop()
    registry_gc.print_table(outcome)
    return registry_gc.to_json(outcome), bool(outcome.problems)


def _sync(
    args: argparse.Namespace, emulators: Emulators, workdir: Path
) -> tuple[list[Row], list[str]]:
    """regstore sync against rclone sync: its rows and notes (radosgw started if not given)."""
    from . import sync

    try:
        if not args.quick and not os.environ.get("REGSTORE_TEST_RGW_ENDPOINT"):
            os.environ.update(emulators.start(["rgw"]))
        return sync.run(args.quick, workdir, _say), []
    except Exception as exc:
        _say(f"sync: not measured: {exc}")
        return [], [f"sync: not measured: {exc}"[:500]]
    finally:
        emulators.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit 1 when a regstore operation failed or a backend did not start."""
    args = _parse(argv)
    if args.registry_gc:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        figures, failed = _registry_gc(args, Emulators(args.emulator_state.resolve()), workdir)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.with_name("registry-gc.json").write_text(json.dumps(figures, indent=2))
        return 1 if failed else 0
    available = set(regstore.available_drivers())
    if args.sync:  # only the sync comparison
        args.driver, args.case = [], ["regstore sync"]
    wanted = [d for d in (DRIVERS if args.driver is None else args.driver) if d in available]
    skipped = [d for d in (DRIVERS if args.driver is None else args.driver) if d not in available]
    notes = [f"{d}: driver not installed, not measured" for d in skipped]
    workdir = args.workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    machine = describe(REPO, workdir)
    emulators = Emulators(args.emulator_state.resolve())
    rows: list[Row] = []
    memory: dict[str, dict[str, Any]] = {}
    aio: dict[str, dict[str, Any]] = {}
    stages = Stages()
    failed = False
    only = _only(args.case)
    try:
        for driver in wanted:
            for label, emulator in _backends(driver, args):
                with stages.stage(f"{label}: emulator and contenders"):
                    try:
                        env = _running(emulator) if args.reuse_emulators else None
                        if env is None:
                            env = emulators.start([emulator] if emulator else [])
                        else:
                            _say(f"{label}: using the running {emulator} from the environment")
                        os.environ.update(env)
                        backend = _backend(driver, label, emulator, env, workdir)
                    except Exception as exc:
                        failed = True
                        notes.append(f"{label}: not measured: {exc}")
                        _say(f"{label}: not measured: {exc}")
                        emulators.stop()
                        continue
                plan = _plan(driver, args, emulator)
                try:
                    _say(f"{label}: {', '.join(c.label for c in backend.contenders)}")
                    with stages.stage(f"{label}: cases") as stage:
                        found, seconds = run_cases(backend, plan, _say, only)
                        stage.parts = seconds
                        stage.timed = sum(sum(r.times) for row in found for r in row.results)
                    rows.extend(found)
                    if only("asyncio"):
                        with stages.stage(f"{label}: asyncio"):
                            aio[label] = _aio(
                                backend_figures, driver, backend.parameters, args.quick
                            )
                    if not args.case and driver in ("filesystem", "s3", "azure", "gcs"):
                        with stages.stage(f"{label}: peak RSS"):
                            figures = _memory(driver, backend.parameters, plan.rss_size)
                        if figures:
                            memory[label] = figures
                    # Saved after every backend, so a run cut short keeps what it measured.
                    write_json(
                        args.output,
                        rows,
                        [],
                        machine,
                        {"partial": True, "notes": notes, "stages": stages.to_json()},
                    )
                finally:
                    with stages.stage(f"{label}: clean-up"):
                        try:
                            backend.close()
                        except Exception as exc:
                            notes.append(f"{label}: clean-up failed: {exc}")
                        emulators.stop()
        if only("regstore sync"):
            with stages.stage("sync"):
                found, more = _sync(args, emulators, workdir)
                rows.extend(found)
                notes.extend(more)
        registry_gc: dict[str, Any] = {}
        if not args.case or only("registry gc"):
            with stages.stage("registry gc"):
                registry_gc, gc_failed = _registry_gc(args, emulators, workdir)
            failed = failed or gc_failed
        if only("asyncio"):
            _say("asyncio: concurrent calls on a slow backend")
            with stages.stage("asyncio: slow backend"):
                aio["inmemory, 50 ms a call"] = _aio(slow_backend_figures, args.quick)
        if "inmemory" in wanted and only("telemetry overhead"):
            _say("telemetry overhead: 1 KiB put+get with and without OpenTelemetry")
            with stages.stage("telemetry overhead"):
                try:
                    found, more = telemetry_rows(args.quick)
                    rows.extend(found)
                    notes.extend(more)
                except Exception as exc:
                    failed = True
                    notes.append(f"telemetry overhead: not measured: {exc}")
        if "filesystem" in wanted and only("digest overhead"):
            _say("digest overhead: a filesystem stream with and without a digest")
            with stages.stage("digest overhead"):
                try:
                    found, more = digest_rows(args.quick)
                    rows.extend(found)
                    notes.extend(more)
                except Exception as exc:
                    failed = True
                    notes.append(f"digest overhead: not measured: {exc}")
        imports = None
        if not args.case:
            rounds = 3 if args.quick else IMPORT_ROUNDS
            _say(f"import time of regstore: best of {rounds} fresh interpreters")
            with stages.stage("import regstore"):
                imports = import_time(rounds)
    finally:
        emulators.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for row in rows:
        for result in row.results:
            if result.role == "regstore" and result.error:
                failed = True
    verdicts = check_targets(rows, memory, imports) + sync_verdicts(rows)
    elapsed = stages.elapsed()
    notes.append(f"run took {elapsed:.0f} s ({'quick' if args.quick else 'full'})")
    print_report(rows, verdicts, machine, notes)
    print_figures(aio)
    print_stages(stages)
    extra = {
        "quick": args.quick,
        "elapsed_s": elapsed,
        "stages": stages.to_json(),
        "load_average_at_end": os.getloadavg(),
        "memory": memory,
        "registry_gc": registry_gc,
        "import": imports,
        "notes": notes,
    }
    write_json(args.output, rows, verdicts, machine, extra)
    _say(f"wrote {args.output}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(rows, verdicts))
        _say(f"wrote {args.markdown}")
    return 1 if failed else 0


def _backends(driver: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """``(label, emulator)`` of every backend a driver is measured on."""
    if driver == "s3":
        return [
            (f"s3 ({'radosgw' if s == 'rgw' else s})", s)
            for s in _s3_servers(args.s3_server, args.quick)
        ]
    return [(driver, name) for name in EMULATORS.get(driver, [""])]


#: Environment variables that name a running emulator (all must be set to reuse it).
RUNNING = {
    "moto": ("REGSTORE_TEST_MOTO_ENDPOINT",),
    "rgw": (
        "REGSTORE_TEST_RGW_ENDPOINT",
        "REGSTORE_TEST_RGW_ACCESS_KEY",
        "REGSTORE_TEST_RGW_SECRET_KEY",
    ),
    "azurite": ("REGSTORE_TEST_AZURITE_CONNECTION_STRING", "REGSTORE_TEST_AZURITE_ENDPOINT"),
    "fakegcs": ("REGSTORE_TEST_FAKEGCS_ENDPOINT",),
}


def _running(emulator: str) -> dict[str, str] | None:
    """The environment of an already running ``emulator``, or None when it names none."""
    names = RUNNING.get(emulator)
    if not names or not all(os.environ.get(name) for name in names):
        return None
    return {name: os.environ[name] for name in names}


def _plan(driver: str, args: argparse.Namespace, emulator: str = "") -> Plan:
    plan = plan_for(driver, args.quick)
    if driver == "s3" and not args.quick:
        plan = replace(plan, big_rounds=2)
        if emulator == "rgw":
            # Four contenders' streams must fit radosgw's memstore at once. A 128 MiB
            # write is one call of about half a second: nine rounds, so one stall
            # of the 2 shared cores does not decide its best time.
            plan = replace(plan, stream_size=128 * MiB, rss_size=256 * MiB, stream_rounds=9)
            # A walk round is about a second per contender, a delete round needs a fresh
            # 10,000-key tree per contender (about 70 s a round): best of five, not of two,
            # so the ratios of two runs agree (two rounds left them 15-30% apart, and three
            # left the deletes 16% apart: raw boto3's best moved from 7.9 s to 6.8 s).
            plan = replace(plan, walk_rounds=5, big_rounds=5)
    if driver == "gcs" and not args.quick:
        # fake-gcs-server answers a 10,000-object listing in 270-870 ms and the client's
        # own share is 30-100 ms of it: eleven rounds, so both sides meet a quiet server.
        plan = replace(plan, list_rounds=11)
    if args.stream_mib:
        plan = replace(plan, stream_size=args.stream_mib * MiB)
    if args.many_small:
        plan = replace(plan, many_small=args.many_small)
    if args.scale_files:
        n = args.scale_files
        plan = replace(plan, walk_files=n, list_entries=n, delete_files=n)
    return plan


def _backend(driver: str, label: str, emulator: str, env: dict[str, str], workdir: Path) -> Backend:
    if driver == "filesystem":
        from .local import filesystem_backend

        return filesystem_backend(workdir)
    if driver == "inmemory":
        from .local import inmemory_backend

        return inmemory_backend()
    if driver == "s3":
        from .s3 import S3Server, s3_backend

        if emulator == "rgw":
            server = S3Server(
                "radosgw",
                env["REGSTORE_TEST_RGW_ENDPOINT"],
                env["REGSTORE_TEST_RGW_ACCESS_KEY"],
                env["REGSTORE_TEST_RGW_SECRET_KEY"],
            )
        else:
            server = S3Server("moto", env["REGSTORE_TEST_MOTO_ENDPOINT"], "testing", "testing")
        return s3_backend(label, server)
    if driver == "azure":
        from .azure import azure_backend

        return azure_backend(
            env["REGSTORE_TEST_AZURITE_CONNECTION_STRING"], env["REGSTORE_TEST_AZURITE_ENDPOINT"]
        )
    from .gcs import gcs_backend

    return gcs_backend(env["REGSTORE_TEST_FAKEGCS_ENDPOINT"])
