"""The one exception class of swebench_runner for problems a user can fix."""

from __future__ import annotations


class SwebenchError(Exception):
    """Bad input to the SWE-bench runner: a missing file, an unknown instance, an absent repository."""

    user_error = True
