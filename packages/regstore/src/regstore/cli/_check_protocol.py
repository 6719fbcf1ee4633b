"""What ``regstore check`` and its pytest child agree on: the spec variable and the event marker."""

from __future__ import annotations

#: The environment variable carrying the driver's name and parameters as JSON.
SPEC_VARIABLE = "REGSTORE_CHECK_SPEC"
#: The prefix of the JSON event lines the child writes on stdout.
MARKER = "@@regstore-check@@ "
