"""``python -m regstore``: a first job on the embedded default store.

Stores, resumes and walks a registry-shaped tree with the filesystem driver
under ``./.regstore-data`` (or ``$REGSTORE_DATA``), and prints what it did.
"""

from __future__ import annotations

import hashlib
import os
import sys

from . import __version__, available_drivers, create


def main() -> int:
    """Run the first job and print a short report."""
    root = os.path.abspath(os.environ.get("REGSTORE_DATA", ".regstore-data"))
    print(f"regstore {__version__}; drivers installed: {', '.join(available_drivers())}")
    print(f"store: filesystem driver under {root}", file=sys.stderr)
    driver = create("filesystem", {"rootdirectory": root})
    blob = os.urandom(3 << 20)
    digest = hashlib.sha256(blob).hexdigest()
    base = "/docker/registry/v2"
    upload = f"{base}/repositories/hello/_uploads/first/data"
    with driver.writer(upload) as writer:  # leaving the block closes: resumable
        writer.write(blob[: 1 << 20])
    with driver.writer(upload, append=True) as writer:
        writer.write(blob[1 << 20 :])
        writer.commit()
    blob_path = f"{base}/blobs/sha256/{digest[:2]}/{digest}/data"
    driver.move(upload, blob_path)
    driver.put_content(
        f"{base}/repositories/hello/_layers/sha256/{digest}/link", f"sha256:{digest}".encode()
    )
    assert hashlib.sha256(driver.get_content(blob_path)).hexdigest() == digest
    for info in driver.walk(base):
        kind = "dir " if info.is_dir else f"{info.size:>8}"
        print(f"  {kind}  {info.path}")
    print(f"ok: uploaded {len(blob)} bytes in two resumable chunks, moved to {blob_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
