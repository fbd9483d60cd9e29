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


def keyword_only(*legacy, renamed=None):
    """Decorates a function (or `__init__`) whose leading positional
    parameters are the only ones it takes by position, to accept the
    positional form of version 0.1.0 with a `DeprecationWarning`.

    Args:
        *legacy: The names of the keyword-only parameters that used to be
            positional, in their old order.
        renamed: `{old name: new name}` of keyword arguments that were
            renamed; the old name still works and warns.

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

        def name_of(args):
            if fn.__name__ == "__init__":
                return type(args[0]).__name__
            return fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in (renamed or {}).items():
                if old in kwargs:
                    deprecated(
                        f"The argument {old!r} of {name_of(args)} is now "
                        f"{new!r}."
                    )
                    if new in kwargs:
                        raise TypeError(f"Pass {new!r} only, not {old!r}.")
                    kwargs[new] = kwargs.pop(old)
            if len(args) <= count:
                return fn(*args, **kwargs)
            name = name_of(args)
            extra = args[count:]
            if len(extra) > len(legacy):
                method = fn.__name__ == "__init__"
                raise TypeError(
                    f"{name} takes {', '.join(positional[method:])} by "
                    "position and the rest by keyword; received "
                    f"{len(args) - method} positional arguments."
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

        # Keras reads the signature of a layer's __init__ without
        # following the wrapper.
        wrapper.__signature__ = inspect.signature(fn)
        return wrapper

    return decorate
