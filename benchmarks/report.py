"""The table on the terminal (rich when installed) and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .stages import Stages
from .targets import Verdict
from .timing import SLOW_PEER, Row

__all__ = ["markdown", "print_report", "print_stages", "write_json"]


def _cell(row: Row, label: str) -> str:
    result = next((r for r in row.results if r.label == label), None)
    if result is None:
        return "-"
    if result.error is not None:
        return "n/a" if result.error.startswith("skipped") else "error"
    ratio = row.ratio(label)
    return f"{ratio:.2f}x" if ratio is not None else "-"


def _duration(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} us"
    return f"{seconds * 1000:.1f} ms"


def _backend_tables(rows: Sequence[Row]) -> list[tuple[str, list[str], list[list[str]], str]]:
    tables = []
    for backend in dict.fromkeys(r.backend for r in rows):
        mine = [r for r in rows if r.backend == backend]
        labels = list(dict.fromkeys(res.label for r in mine for res in r.results))
        header = ["case", f"{mine[0].baseline} (best)", *labels]
        body = []
        for row in mine:
            base = next((r for r in row.results if r.label == row.baseline), None)
            best = _duration(base.best) if base and base.best is not None else "error"
            body.append([row.case, best, *[_cell(row, label) for label in labels]])
        notes = [mine[0].note] if mine[0].note else []
        for row in mine:
            for res in row.results:
                if res.error:
                    notes.append(f"{row.case} / {res.label}: {res.error}")
                elif res.capped:
                    notes.append(
                        f"{row.case} / {res.label}: one run (over {SLOW_PEER:.0f}x the baseline)"
                    )
        tables.append((backend, header, body, "\n".join(notes)))
    return tables


def print_report(
    rows: Sequence[Row], verdicts: Sequence[Verdict], machine: dict[str, Any], notes: Sequence[str]
) -> None:
    """Print one table per backend (ratios to its baseline, higher is faster), then the targets."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        _print_plain(rows, verdicts, machine, notes)
        return
    console = Console(width=160)
    console.print(
        f"[bold]machine[/]: {machine['cpus']} cores ({machine['cpu']}), {machine['memory']},"
        f" Python {machine['python']}, load {machine['load_average_at_start']}"
    )
    console.print("Figures: speed relative to the baseline column, best of N rounds (>1 faster).")
    for backend, header, body, note in _backend_tables(rows):
        table = Table(title=backend, title_justify="left")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for line in body:
            table.add_row(*line)
        console.print(table)
        if note:
            console.print(f"[dim]notes: {note}[/]")
    if verdicts:
        table = Table(title="targets", title_justify="left")
        for name in ("backend", "target", "measured", "goal", "met", "detail"):
            table.add_column(name)
        for v in verdicts:
            table.add_row(*_verdict_cells(v))
        console.print(table)
    for note in notes:
        console.print(f"[yellow]{note}[/]")


def print_stages(stages: Stages) -> None:
    """The wall time of every stage and of the whole run (the slowest cases of each stage too)."""
    print("\nwall time per stage:")
    for stage in stages.done:
        timed = "" if stage.timed is None else f", timed runs {stage.timed:.1f} s"
        print(f"  {stage.seconds:8.1f} s  {stage.name}  (load {stage.load_at_end:.1f}{timed})")
        slowest = sorted(stage.parts.items(), key=lambda item: -item[1])[:5]
        for name, seconds in slowest:
            print(f"  {'':8} {seconds:7.1f} s  {name}")
    print(f"  {stages.elapsed():8.1f} s  whole run")


def _verdict_cells(v: Verdict) -> list[str]:
    measured = "-" if v.measured is None else f"{v.measured:.2f}"
    met = {True: "yes", False: "NO", None: "-"}[v.met]
    goal = f"{'>=' if v.higher_is_better else '<='} {v.goal:.2f}"
    return [v.backend, v.target, measured, goal, met, v.detail]


def _print_plain(
    rows: Sequence[Row], verdicts: Sequence[Verdict], machine: dict[str, Any], notes: Sequence[str]
) -> None:
    print(f"machine: {machine['cpus']} cores, {machine['memory']}, Python {machine['python']}")
    for backend, header, body, note in _backend_tables(rows):
        print(f"\n{backend}")
        print(" | ".join(header))
        for line in body:
            print(" | ".join(line))
        if note:
            print(f"notes: {note}")
    print("\ntargets")
    for v in verdicts:
        print(" | ".join(_verdict_cells(v)))
    for note in notes:
        print(note)


def markdown(rows: Sequence[Row], verdicts: Sequence[Verdict]) -> str:
    """The same tables as Markdown, for docs/performance.md."""
    out: list[str] = []
    for backend, header, body, note in _backend_tables(rows):
        out.append(f"### {backend}\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        out.extend("| " + " | ".join(line) + " |" for line in body)
        if note:
            out.append("\nNotes: " + note.replace("\n", "; "))
        out.append("")
    out.append("### targets\n")
    out.append("| backend | target | measured | goal | met | detail |")
    out.append("|---|---|---:|---|---|---|")
    out.extend("| " + " | ".join(_verdict_cells(v)) + " |" for v in verdicts)
    return "\n".join(out) + "\n"


def write_json(
    path: Path,
    rows: Sequence[Row],
    verdicts: Sequence[Verdict],
    machine: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    """Write every figure (times, ratios, targets, machine) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": machine,
        **extra,
        "rows": [r.to_json() for r in rows],
        "targets": [v.to_json() for v in verdicts],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
