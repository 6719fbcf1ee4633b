"""``python -m regstore_registry --config config.yml --port 5000``: serve the registry."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from aiohttp import web

from .app import create_app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: the store's configuration, where to listen, where uploads go."""
    parser = argparse.ArgumentParser(
        prog="python -m regstore_registry",
        description="A minimal OCI registry (push and pull) over a regstore storage driver.",
    )
    parser.add_argument(
        "--config",
        required=True,
        help="a distribution registry config.yml; its storage: section (and REGISTRY_STORAGE_*"
        " variables) choose the driver",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="TCP port to listen on (5000)")
    parser.add_argument(
        "--upload-url",
        help="base URL that upload Location headers point to, e.g. another server over the"
        " same store (default: the URL the client used)",
    )
    parser.add_argument(
        "--max-threads", type=int, help="threads for storage calls (regstore.aio's default)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then close the store."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(args.config, upload_url=args.upload_url, max_threads=args.max_threads)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
