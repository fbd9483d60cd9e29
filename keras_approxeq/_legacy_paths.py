"""The module paths of keras-approxeq 0.1, kept importable.

0.2 moved the flat modules into subpackages. Each old path is registered
in `sys.modules` as the very module that replaced it (not a copy), so
`from keras_approxeq.projectors import get_projector` and
`keras_approxeq.groups.get("C4")` keep working, and a name patched under
one path is patched under both. `keras_approxeq.diagnostics`, formerly a
module, is now the subpackage that re-exports its names.
"""

import importlib
import sys

MOVED = {
    "groups": "symmetry.groups",
    "irreps": "symmetry.irreps",
    "spherical": "symmetry.spherical",
    "representations": "symmetry.representations",
    "data_formats": "actions.data_formats",
    "layouts": "actions.layouts",
    "transforms": "actions.transforms",
    "interpolation": "actions.interpolation",
    "radial": "kernels.radial",
    "spherical_basis": "kernels.spherical_basis",
    "weight_views": "projection.weight_views",
    "kronecker": "projection.kronecker",
    "steerable": "projection.steerable",
    "spectral": "projection.spectral",
    "projectors": "projection.projectors",
    "target": "projection.target",
    "norms": "penalties.norms",
    "operator_norms": "penalties.operator_norms",
    "regularizer": "penalties.regularizer",
    "constraints": "penalties.decay",
    "initializers": "penalties.initializers",
    "regularize": "penalties.regularize",
    "selection": "penalties.selection",
    "report": "diagnostics.report",
    "callbacks": "diagnostics.callbacks",
    "plotting": "diagnostics.plotting",
    "deploy": "diagnostics.deploy",
    "sampled": "baselines.sampled",
}


def install(package):
    """Registers every old path of `package` (its name) in `sys.modules`,
    and as an attribute of the package where no public name holds it."""
    root = sys.modules[package]
    for old, new in MOVED.items():
        module = importlib.import_module(f"{package}.{new}")
        sys.modules[f"{package}.{old}"] = module
        if not hasattr(root, old):
            setattr(root, old, module)
