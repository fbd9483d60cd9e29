"""Deprecations that point at the user's line, not the package's."""

import functools
import inspect
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


def keyword_only(*legacy):
    """Decorates a function (or `__init__`) whose leading positional
    parameters are the only ones it takes by position, to accept the
    positional form of version 0.1.0 with a `DeprecationWarning`.

    Args:
        *legacy: The names of the keyword-only parameters that used to be
            positional, in their old order.

    Example:

    >>> @keyword_only("in_rep", "out_rep")
    ... def f(kernel, group, *, in_rep="trivial", out_rep="trivial"):
    ...     return in_rep, out_rep
    >>> f(None, "C4", out_rep="regular")
    ('trivial', 'regular')
    """

    def decorate(fn):
        positional = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind is p.POSITIONAL_OR_KEYWORD
        ]
        count = len(positional)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if len(args) <= count:
                return fn(*args, **kwargs)
            name = fn.__name__
            if name == "__init__":
                name = type(args[0]).__name__
            extra = args[count:]
            if len(extra) > len(legacy):
                raise TypeError(
                    f"{name} takes {', '.join(positional)} by position and "
                    f"the rest by keyword; received {len(args)} positional "
                    "arguments."
                )
            names = legacy[: len(extra)]
            deprecated(
                f"Pass {', '.join(names)} of {name} by keyword, e.g. "
                f"{names[0]}=...; the positional form is deprecated."
            )
            for key, value in zip(names, extra):
                if key in kwargs:
                    raise TypeError(
                        f"{name} got multiple values for argument {key!r}."
                    )
                kwargs[key] = value
            return fn(*args[:count], **kwargs)

        return wrapper

    return decorate
