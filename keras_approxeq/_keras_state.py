"""Keras' private global state, read where Keras has no public handle.

Both readers fall back to "not set" if a Keras release moves the module.
"""

try:
    from keras.src.backend.common import global_state as _global_state
except ImportError:  # pragma: no cover - a Keras without the module
    _global_state = None

__all__ = ["global_attribute", "in_symbolic_scope"]


def global_attribute(name):
    """Keras' global attribute `name` (e.g. `"name_scope_stack"`), or
    `None`."""
    if _global_state is None:
        return None
    return _global_state.get_global_attribute(name)


def in_symbolic_scope():
    """Whether Keras is computing shapes only (`keras.SymbolicScope`).

    Keras' trainers enter it on the first step, to build the loss and
    metrics from `backend.compute_output_spec`, and evaluate every
    regularizer there once more, on the real weights; only the result's
    shape and dtype are read.
    """
    return global_attribute("symbolic_scope") is not None
