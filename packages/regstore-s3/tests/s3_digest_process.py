"""A child process that resumes an S3 upload with a digest and reports what it read to do so.

Reads a JSON spec on stdin (so credentials never show in a process list)::

    {"parameters": {...}, "path": "/p", "algorithm": "sha256", "first": 3, "count": 2}

resumes the upload at ``path`` with ``digest=algorithm``, notes its size and
digest and every GetObject key requested until then, writes pieces
``first .. first+count-1`` of ``s3_writer_process.pieces()``, closes, and
prints one JSON line with all of it and the digest after the writes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from s3_writer_process import pieces

import regstore


def main() -> None:
    spec: dict[str, Any] = json.load(sys.stdin)
    reads: list[str] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "GetObject":
            reads.append(str(params["Key"]))

    driver = regstore.create("s3", spec["parameters"])
    with driver:
        client = driver.inner.client  # type: ignore[attr-defined]
        client.meta.events.register("before-parameter-build.s3", record)
        writer = driver.writer(spec["path"], append=True, digest=spec["algorithm"])
        report: dict[str, Any] = {
            "resumed_size": writer.size,
            "resumed_digest": writer.digest,
            "reads_to_resume": list(reads),
        }
        for piece in pieces(spec["first"], spec["count"]):
            writer.write(piece)
        writer.close()
        report.update(size=writer.size, digest=writer.digest)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
