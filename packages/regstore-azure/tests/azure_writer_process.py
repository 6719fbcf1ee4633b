"""Run one writer step in its own process, as another registry replica would.

Usage: ``python azure_writer_process.py '<json>'`` with ``parameters``, ``path``,
``append``, ``seed``, ``start``, ``end`` (the byte range of the stream to
write) and ``finish`` (``close`` or ``commit``). Prints a JSON line with the
writer's ``size`` and the process's peak RSS in bytes.
"""

from __future__ import annotations

import json
import resource
import sys

from azure_helpers import stream_bytes

import regstore


def main() -> None:
    job = json.loads(sys.argv[1])
    with regstore.create("azure", job["parameters"]) as driver:
        writer = driver.writer(job["path"], append=job["append"])
        for piece in stream_bytes(job["seed"], job["start"], job["end"]):
            writer.write(piece)
        if job["finish"] == "commit":
            writer.commit()
        writer.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"size": writer.size, "peak_rss": peak}))


if __name__ == "__main__":
    main()
