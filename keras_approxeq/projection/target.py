"""The projection a weight is pulled towards, validated in one place.

`ProjectionRegularizer`, `ProjectionDecay` and `ProjectedInitializer`
each name the same thing, the subspace of equivariant weights, by the same
seven options: the group, the input and output representations, the
weight's layout, the domain the projection is computed in, a band limit
and the radial basis. `ProjectionTarget` validates them once, at
construction, so that a typo fails where it is written rather than at the
first training step, and writes them back into a config.

A training step calls the penalty or the decay once per weight;
`prepared` looks the layout and projector up by the options as they are
stored (already validated), so that a call does not normalise them again
(on eager PyTorch that took about a tenth of a small C4 kernel's penalty
with its gradient, and half of a call whose projection is the identity).
"""

from keras_approxeq._memo import memoize
from keras_approxeq.actions import layouts
from keras_approxeq.kernels import radial
from keras_approxeq.projection.projectors import check_options
from keras_approxeq.projection.projectors import get_projector
from keras_approxeq.projection.projectors import normalize_domain
from keras_approxeq.projection.projectors import normalize_max_frequency
from keras_approxeq.symmetry import groups
from keras_approxeq.symmetry import representations

__all__ = ["ProjectionTarget"]


class ProjectionTarget:
    """Mixin: the seven options that select an equivariant subspace.

    Attributes (after `_set_target`): `group` (its name), `in_rep`,
    `out_rep` (their config forms), `layout`, `domain`, `max_frequency`
    and `basis`, each validated.

    Example:

    >>> from keras_approxeq import ProjectionDecay
    >>> decay = ProjectionDecay("C4", rate=0.5)
    >>> decay.target_config()["group"], decay.projector((3, 3, 2, 2)).dim
    ('C4', 12)
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
        group = groups.get(group)
        self.group = group.name
        self.in_rep = representations.validated(in_rep, "in_rep")
        self.out_rep = representations.validated(out_rep, "out_rep")
        self.layout = layouts.normalize(layout)
        self.domain = normalize_domain(domain)
        self.max_frequency = normalize_max_frequency(max_frequency)
        self.basis = radial.normalize_basis(basis)
        check_options(
            group,
            representations.normalize(self.in_rep, "in_rep"),
            representations.normalize(self.out_rep, "out_rep"),
            self.domain,
            self.max_frequency,
        )

    def projector(self, shape):
        """The (cached) projector for a weight of `shape`."""
        return self.prepared(shape)[1]

    def prepared(self, shape):
        """`(KernelLayout, projector)` for a weight of `shape` (cached).

        Example:

        >>> from keras_approxeq import ProjectionRegularizer
        >>> reg = ProjectionRegularizer("C4")
        >>> layout, projector = reg.prepared((1, 1, 8, 8))
        >>> layout.name, projector.is_identity  # 1x1, trivial fields
        ('conv', True)
        """
        options = map(_hashable, self.target_config().values())
        return _prepared(tuple(shape), *options)

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


@memoize
def _prepared(shape, group, in_rep, out_rep, layout, domain, frequency, basis):
    kernel_layout = layouts.KernelLayout(shape, layout)
    projector = get_projector(
        group,
        in_rep,
        out_rep,
        kernel_layout.shape,
        layout,
        domain=domain,
        max_frequency=frequency,
        basis=basis,
    )
    return kernel_layout, projector


def _hashable(option):
    if isinstance(option, (list, tuple)):
        return tuple(_hashable(item) for item in option)
    return option
