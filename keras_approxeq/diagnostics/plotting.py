"""`plot_equivariance`: the curves an `EquivarianceMonitor` logged."""

__all__ = ["plot_equivariance"]


def plot_equivariance(history, prefix="equivariance", ax=None):
    """Draws each layer's `||T - P T|| / ||T||` over the epochs.

    Needs matplotlib (`pip install "keras-approxeq[plot]"`).

    Args:
        history: A `keras.callbacks.History` (what `fit` returns) or its
            `history` dict, from a run with an `EquivarianceMonitor`.
        prefix: The monitor's prefix.
        ax: A matplotlib `Axes` to draw into; a new figure by default.

    Returns:
        The matplotlib `Axes`.

    Example:

    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no display needed
    >>> history = {  # as `fit` logs it with an `EquivarianceMonitor`
    ...     "loss": [1.0, 0.6, 0.5],
    ...     "equivariance/conv2d/kernel": [0.6, 0.2, 0.05],
    ... }
    >>> ax = plot_equivariance(history)
    >>> [line.get_label() for line in ax.get_lines()]
    ['conv2d/kernel']

    After training, `plot_equivariance(model.fit(..., callbacks=[
    EquivarianceMonitor()])).figure.savefig("equivariance.png")`.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on extras
        raise ImportError(
            "plot_equivariance needs matplotlib: pip install matplotlib (or "
            "the extra keras-approxeq[plot])."
        ) from error
    logs = getattr(history, "history", history)
    curves = {
        key[len(prefix) + 1 :]: values
        for key, values in logs.items()
        if key.startswith(prefix + "/")
    }
    if not curves:
        raise ValueError(
            f"No '{prefix}/...' entries in the history (keys: "
            f"{sorted(logs)}). Train with an EquivarianceMonitor(prefix="
            f"{prefix!r}) in the callbacks."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        epochs = range(1, len(values) + 1)
        ax.plot(epochs, [max(v, 1e-12) for v in values], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("||T - P T|| / ||T||")
    ax.set_title("Non-equivariant part of each regularised weight")
    ax.legend(fontsize="small")
    return ax
