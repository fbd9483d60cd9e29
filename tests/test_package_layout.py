"""The package's layers, as `docs/concepts.md` draws them, hold.

Each module imports only from its own row and the rows above; nothing
imports another module's private names (the private helper modules
`_memo`, `_ops`, `_linalg` and `_warnings` excepted); there are no import
cycles; the tests use no private name of the package or the examples.
"""

import ast
import pathlib

import keras_approxeq

PACKAGE = pathlib.Path(keras_approxeq.__file__).parent
HELPERS = {"_memo", "_ops", "_linalg", "_warnings", "version"}
ROWS = [
    {
        "groups",
        "irreps",
        "spherical",
        "representations",
        "layouts",
        "data_formats",
    },
    {"transforms", "interpolation"},
    {"radial", "steerable", "spherical_basis", "kronecker", "weight_views"},
    {"projectors", "spectral", "target"},
    {
        "norms",
        "operator_norms",
        "regularizer",
        "constraints",
        "initializers",
        "regularize",
        "selection",
    },
    {
        "diagnostics",
        "report",
        "callbacks",
        "plotting",
        "deploy",
        "sampled",
        "layers",
    },
]
ROW = {module: i for i, row in enumerate(ROWS) for module in row}


def _modules():
    """`{name: path}`; the layers subpackage's modules are `layers`."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        name = path.stem
        if path.parent.name == "layers":
            name = "layers"
        found.setdefault(name, []).append(path)
    return found


def _imports(paths):
    """`{(module, imported name)}` of the package imports in `paths`."""
    imports = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if node.module == "keras_approxeq":
                imports.update((a.name, None) for a in node.names)
            elif node.module.startswith("keras_approxeq."):
                module = node.module.split(".")[1]
                imports.update((module, a.name) for a in node.names)
    return imports


def test_every_module_has_a_row():
    assert set(_modules()) - HELPERS == set(ROW)


def test_modules_import_only_from_their_row_and_above():
    for name, paths in _modules().items():
        if name in HELPERS:
            continue
        for module, _ in _imports(paths):
            if module in HELPERS or module == name:
                continue
            assert ROW[module] <= ROW[name], (
                f"{name} (row {ROW[name]}) imports {module} (row {ROW[module]})"
            )


def test_no_module_imports_another_modules_private_names():
    for name, paths in _modules().items():
        for module, imported in _imports(paths):
            if module in HELPERS or module == name or imported is None:
                continue
            assert not imported.startswith("_"), (name, module, imported)
        for path in paths:
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id in ROW
                    and node.value.id != name
                ):
                    assert not node.attr.startswith("_"), (
                        f"{name} uses {node.value.id}.{node.attr}"
                    )


def test_no_import_cycles():
    graph = {
        name: {m for m, _ in _imports(paths) if m != name}
        for name, paths in _modules().items()
    }
    done, active = set(), []

    def visit(name):
        if name in active:
            cycle = active[active.index(name) :] + [name]
            raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
        if name in done:
            return
        active.append(name)
        for module in graph.get(name, ()):
            visit(module)
        active.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_tests_use_no_private_names_of_the_package_or_the_examples():
    modules = {
        name
        for name in dir(keras_approxeq)
        if isinstance(getattr(keras_approxeq, name), type(keras_approxeq))
    }
    for path in pathlib.Path(__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        aliases = set()  # names bound to a package module or an example
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                node.module or ""
            ).startswith("keras_approxeq"):
                for alias in node.names:
                    assert not alias.name.startswith("_"), (path, alias.name)
                    if node.module != "keras_approxeq" or alias.name in modules:
                        aliases.add(alias.asname or alias.name)
            if isinstance(node, ast.Assign) and isinstance(
                node.value, ast.Call
            ):
                func = node.value.func
                if isinstance(func, ast.Name) and func.id == "_load":
                    aliases.update(
                        t.id for t in node.targets if isinstance(t, ast.Name)
                    )
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                private = node.attr.startswith("_")
                assert not private or node.attr.startswith("__"), (
                    f"{path.name}:{node.lineno} uses "
                    f"{node.value.id}.{node.attr}"
                )


def test_the_api_reference_documents_exactly_the_public_names():
    """Every name in `keras_approxeq.__all__` and `layers.__all__` has an
    entry in `docs/api/` (the internals page holds the projector
    modules), and every entry there is public."""
    api = pathlib.Path(__file__).parents[1] / "docs" / "api"
    entries = {
        line.split()[1]
        for page in api.glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
    public = {f"keras_approxeq.{name}" for name in keras_approxeq.__all__}
    public |= {
        f"keras_approxeq.layers.{name}"
        for name in keras_approxeq.layers.__all__
    }
    public -= {"keras_approxeq.__version__", "keras_approxeq.layers"}
    internals = {
        f"keras_approxeq.{name}"
        for name in ("projectors", "kronecker", "spherical_basis", "radial")
    }
    assert public - entries == set(), "public names without an entry"
    assert entries - public - internals == set(), "entries of no public name"
