"""Type checks shared by the public API's argument validation.

NumPy scalars count as numbers, booleans do not: `num_fields=np.int64(4)`
is an int, `num_fields=True` is not.
"""

import math
import numbers


def is_int(value, minimum=None):
    """Whether `value` is an integer (not a bool), at least `minimum`."""
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and (minimum is None or value >= minimum)
    )


def is_number(value):
    """Whether `value` is a finite real number (not a bool)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def require(valid, name, value, expected):
    """Raises `ValueError` unless `valid`: "Expected `name` to be
    `expected`. Received: name=value." """
    if not valid:
        raise ValueError(
            f"Expected `{name}` to be {expected}. Received: {name}={value!r}."
        )
