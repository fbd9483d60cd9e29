"""Every public class checks its group and representations when built."""

import numpy as np
import pytest

from keras_approxeq import EquivarianceMonitor
from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import SampledEquivariance
from keras_approxeq.layers import FieldNormalization
from keras_approxeq.layers import RelaxedGroupConv2D
from keras_approxeq.layers import ResidualPathway

CONSTRUCTORS = {
    "ProjectionRegularizer": lambda group, rep: ProjectionRegularizer(
        group, in_rep=rep
    ),
    "ProjectionDecay": lambda group, rep: ProjectionDecay(group, rep),
    "ProjectedInitializer": lambda group, rep: ProjectedInitializer(
        group, "trivial", rep
    ),
    "SampledEquivariance": lambda group, rep: SampledEquivariance(
        None, group, in_rep=rep
    ),
    "EquivarianceMonitor": lambda group, rep: EquivarianceMonitor(
        np.zeros((1, 4, 4, 1)), group, in_rep=rep
    ),
    "ResidualPathway": lambda group, rep: ResidualPathway(
        4, 3, group=group, in_rep=rep
    ),
    "RelaxedGroupConv2D": lambda group, rep: RelaxedGroupConv2D(
        1, 3, group=group, in_rep=rep
    ),
    "FieldNormalization": lambda group, rep: FieldNormalization(group, rep),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_an_unknown_group_fails_at_construction(name):
    with pytest.raises(ValueError, match="Unknown group 'C4x'"):
        CONSTRUCTORS[name]("C4x", "regular")


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_an_unknown_representation_fails_at_construction(name):
    with pytest.raises(ValueError, match="'regulr'"):
        CONSTRUCTORS[name]("C4", "regulr")


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_valid_arguments_construct(name):
    CONSTRUCTORS[name]("C4", "regular")
