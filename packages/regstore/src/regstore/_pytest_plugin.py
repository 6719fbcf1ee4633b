"""pytest plugin: rewrite the conformance suite's asserts so a failure shows what differed.

Registered through the ``pytest11`` entry point; it must not import the suite
itself, or the rewrite would come too late.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("regstore.testsuite")
