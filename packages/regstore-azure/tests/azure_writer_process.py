"""Run one writer step in its own process, as another registry replica would.

Usage: ``python azure_writer_process.py '<json>'`` with ``parameters``, ``path``,
``append``, ``seed``, ``start``, ``end`` (the byte range of the stream to
write) and ``finish`` (``close`` or ``commit``); optionally ``digest`` (the
algorithm to hash with) and ``expected`` (the digest a commit must match).
Prints a JSON line with the writer's ``size``, the process's peak RSS in bytes
and, with ``digest``, the writer's digest once resumed (``resumed_digest``)
and at the end (``digest``).
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Callable

from azure_helpers import stream_bytes

import regstore
from regstore import FileWriter


def main() -> None:
    job = json.loads(sys.argv[1])
    with regstore.create("azure", job["parameters"]) as driver:
        digest = job.get("digest")
        open_writer: Callable[..., FileWriter] = driver.writer  # the wrapper takes digest=
        writer = open_writer(job["path"], job["append"], digest=digest)
        resumed_digest = writer.digest
        for piece in stream_bytes(job["seed"], job["start"], job["end"]):
            writer.write(piece)
        if job["finish"] == "commit":
            writer.commit(expected_digest=job.get("expected"))
        writer.close()
    answer = {"size": writer.size, "peak_rss": peak_rss()}
    if digest is not None:
        answer.update(resumed_digest=resumed_digest, digest=writer.digest)
    print(json.dumps(answer))


def peak_rss() -> int:
    """This process's peak resident set size in bytes.

    ``VmHWM`` where there is one: on Linux ``ru_maxrss`` also counts the parent's
    memory this process had before it ran ``exec`` (the pytest worker's).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
