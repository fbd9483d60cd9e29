"""The projection a weight is pulled towards, validated in one place.

`ProjectionRegularizer`, `ProjectionDecay` and `ProjectedInitializer`
each name the same thing, the subspace of equivariant weights, by the same
seven options: the group, the input and output representations, the
weight's layout, the domain the projection is computed in, a band limit
and the radial basis. `ProjectionTarget` validates them once, at
construction, so that a typo fails where it is written rather than at the
first training step, and writes them back into a config.
"""

import functools

from keras_approxeq import groups
from keras_approxeq import layouts
from keras_approxeq import radial
from keras_approxeq import representations
from keras_approxeq._warnings import deprecated
from keras_approxeq.projectors import normalize_domain
from keras_approxeq.projectors import normalize_max_frequency
from keras_approxeq.projectors import projector_for

__all__ = ["ProjectionTarget", "keyword_only_after_group"]


def keyword_only_after_group(*legacy):
    """Decorates `__init__(self, group, *, ...)` to accept the positional
    form `(group, *legacy)` of version 0.1.0, with a `DeprecationWarning`.

    Args:
        *legacy: The names of the arguments that were positional, in
            their old order.
    """

    def decorate(init):
        @functools.wraps(init)
        def wrapper(self, group, *args, **kwargs):
            if args:
                if len(args) > len(legacy):
                    raise TypeError(
                        f"{type(self).__name__} takes the group and "
                        f"keyword arguments; received {1 + len(args)} "
                        "positional arguments."
                    )
                names = legacy[: len(args)]
                deprecated(
                    f"Pass {', '.join(names)} of {type(self).__name__} by "
                    f"keyword, e.g. {type(self).__name__}(group, "
                    f"{names[0]}=...); the positional form is deprecated."
                )
                for name, value in zip(names, args):
                    if name in kwargs:
                        raise TypeError(
                            f"{type(self).__name__} got multiple values "
                            f"for argument {name!r}."
                        )
                    kwargs[name] = value
            init(self, group, **kwargs)

        return wrapper

    return decorate


class ProjectionTarget:
    """Mixin: the seven options that select an equivariant subspace.

    Attributes (after `_set_target`): `group` (its name), `in_rep`,
    `out_rep` (their config forms), `layout`, `domain`, `max_frequency`
    and `basis`, each validated.
    """

    def _set_target(
        self,
        group,
        in_rep,
        out_rep,
        layout,
        domain,
        max_frequency,
        basis,
    ):
        self.group = groups.get(group).name
        self.in_rep = representations.validated(in_rep, "in_rep")
        self.out_rep = representations.validated(out_rep, "out_rep")
        self.layout = layouts.normalize(layout)
        self.domain = normalize_domain(domain)
        self.max_frequency = normalize_max_frequency(max_frequency)
        self.basis = radial.normalize_basis(basis)

    def projector(self, shape):
        """The (cached) projector for a weight of `shape`."""
        return projector_for(self, shape)

    def target_config(self):
        """The seven options, as keyword arguments of any of the three."""
        return {
            "group": self.group,
            "in_rep": self.in_rep,
            "out_rep": self.out_rep,
            "layout": self.layout,
            "domain": self.domain,
            "max_frequency": self.max_frequency,
            "basis": self.basis,
        }
