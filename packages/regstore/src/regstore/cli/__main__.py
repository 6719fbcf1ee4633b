"""``python -m regstore.cli``: the ``regstore`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
