"""XLA's own estimate of a compiled JAX function's work.

`cost(fn, *args)` compiles `jax.jit(fn)` for `args` and returns XLA's
cost analysis of it: the bytes its operations read and write, and their
floating-point operations. The figures are static, the same on every run
and machine for a given XLA version, so ratios of them say how much work
one computation does against another, apart from the timings' noise and
from the order in which XLA's CPU runtime happens to execute the program.
"""

__all__ = ["cost"]


def cost(fn, *args):
    """`(bytes accessed, flops)` of `jax.jit(fn)(*args)`, as XLA counts."""
    import jax

    analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one per device
        analysis = analysis[0]
    return analysis["bytes accessed"], analysis["flops"]
