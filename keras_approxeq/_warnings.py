"""Deprecation warnings that point at the user's line, not the package's."""

import sys
import warnings


def deprecated(message):
    """Warns with `DeprecationWarning`, attributed to the first caller
    outside `keras_approxeq` (however deep inside the package it is
    raised), so that warning filters and the report name user code."""
    frame, level = sys._getframe(1), 2  # stacklevel 1 is this function
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        "keras_approxeq"
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DeprecationWarning, stacklevel=level)
