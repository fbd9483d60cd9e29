"""Every public class checks its group and representations when built."""

import keras
import numpy as np
import pytest

from keras_approxeq import EquivarianceMonitor
from keras_approxeq import ProjectedInitializer
from keras_approxeq import ProjectionDecay
from keras_approxeq import ProjectionRegularizer
from keras_approxeq import SampledEquivariance
from keras_approxeq import project
from keras_approxeq import transform
from keras_approxeq.layers import FieldNormalization
from keras_approxeq.layers import GroupConv2D
from keras_approxeq.layers import RelaxedGroupConv2D
from keras_approxeq.layers import ResidualPathway

CONSTRUCTORS = {
    "ProjectionRegularizer": lambda group, rep: ProjectionRegularizer(
        group, in_rep=rep
    ),
    "ProjectionDecay": lambda group, rep: ProjectionDecay(group, in_rep=rep),
    "ProjectedInitializer": lambda group, rep: ProjectedInitializer(
        group, in_rep="trivial", out_rep=rep
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
    "FieldNormalization": lambda group, rep: FieldNormalization(group, rep=rep),
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


@pytest.mark.parametrize(
    "cls, legacy",
    [
        (ProjectionDecay, dict(in_rep="regular", out_rep="trivial", rate=0.5)),
        (
            ProjectedInitializer,
            dict(in_rep="regular", out_rep="trivial", base="he_normal"),
        ),
    ],
)
def test_the_positional_form_of_0_1_0_still_works_and_warns(cls, legacy):
    with pytest.warns(DeprecationWarning, match="by keyword"):
        old = cls("C4", *legacy.values())
    assert old.get_config() == cls("C4", **legacy).get_config()
    with pytest.raises(TypeError, match="multiple values for argument"):
        cls("C4", "regular", in_rep="regular")
    with pytest.raises(TypeError, match="positional arguments"):
        cls("C4", "regular", "trivial", 0.5, None, "extra")


def test_functions_take_the_representations_by_keyword_and_warn_on_0_1_0():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 4))
    with pytest.warns(DeprecationWarning, match="in_rep, out_rep of project"):
        old = project(kernel, "C4", "regular", "regular")
    new = project(kernel, "C4", in_rep="regular", out_rep="regular")
    np.testing.assert_array_equal(old, new)
    x = np.random.default_rng(1).normal(size=(1, 5, 5, 4)).astype("float32")
    with pytest.warns(
        DeprecationWarning, match="rep, data_format of transform"
    ):
        old = transform(x, "C4", 1, "regular", "channels_last")
    new = transform(x, "C4", 1, rep="regular", data_format="channels_last")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(old), keras.ops.convert_to_numpy(new)
    )
    with pytest.raises(TypeError, match="by position and the rest by keyword"):
        transform(x, "C4", 1, "regular", "channels_last", "extra")
    # A class counts its arguments as its caller wrote them, without self.
    with pytest.raises(
        TypeError,
        match=r"ProjectionDecay takes group by position.*received 6 positional",
    ):
        ProjectionDecay("C4", "trivial", "trivial", 0.1, None, "extra")


@pytest.mark.parametrize("cls", [GroupConv2D, RelaxedGroupConv2D])
def test_layers_count_num_fields_and_read_the_configs_of_0_1_0(cls):
    with pytest.warns(DeprecationWarning, match="by keyword"):
        old = cls(2, 3, "C8")
    assert old.group == "C8" and old.filters == 16
    with pytest.warns(DeprecationWarning, match="'fields' of .* is now"):
        renamed = cls(fields=2, kernel_size=3)
    assert renamed.num_fields == 2
    config = cls(2, 3, name="layer").get_config()
    config["fields"] = config.pop("num_fields")
    with pytest.warns(DeprecationWarning, match="'fields' of .* is now"):
        loaded = cls.from_config(config)
    assert loaded.get_config() == cls(2, 3, name="layer").get_config()
