"""The package's layers, as `docs/concepts.md` draws them, hold.

The subpackages are rows: each module imports only from its own
subpackage and the rows above; nothing imports another module's private
names (the private helper modules excepted); there are no import cycles
between modules; the tests use no private name of the package or the
examples; the module paths of 0.1 still import, as the same modules.
"""

import ast
import functools
import importlib
import pathlib

import keras_approxeq

PACKAGE = pathlib.Path(keras_approxeq.__file__).parent
HELPERS = {
    "_checks",
    "_keras_state",
    "_memo",
    "_ops",
    "_linalg",
    "_warnings",
    "_legacy_paths",
    "version",
}
ROWS = [
    ["symmetry"],
    ["actions"],
    ["kernels"],
    ["projection"],
    ["penalties"],
    ["diagnostics", "baselines", "layers"],
]
ROW = {package: i for i, row in enumerate(ROWS) for package in row}


@functools.cache
def _modules():
    """`{dotted name: path}` of every module but the top-level `__init__`;
    a subpackage's `__init__` is the subpackage."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            found[".".join(parts)] = path
    return found


def _row(module):
    """The subpackage row of a dotted module name, or None for helpers."""
    top = module.split(".")[0]
    return None if top in HELPERS else ROW[top]


def _imports(path):
    """`{(dotted module, imported name or None)}` of the package imports in
    `path`, with `from keras_approxeq.a import b` read as module `a.b` when
    `b` is a module."""
    modules = set(_modules())
    imports = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if not node.module.startswith("keras_approxeq"):
            continue
        base = node.module.removeprefix("keras_approxeq").lstrip(".")
        for alias in node.names:
            dotted = f"{base}.{alias.name}".lstrip(".")
            if dotted in modules:
                imports.add((dotted, None))
            else:
                imports.add((base, alias.name))
    return imports


def test_every_module_is_a_helper_or_in_a_row():
    for name in _modules():
        assert name.split(".")[0] in HELPERS | set(ROW), name


def test_modules_import_only_from_their_row_and_above():
    for name, path in _modules().items():
        if _row(name) is None:
            continue
        for module, _ in _imports(path):
            if _row(module) is None:
                continue
            assert _row(module) <= _row(name), (
                f"{name} (row {_row(name)}) imports {module} "
                f"(row {_row(module)})"
            )
            if _row(module) == _row(name):
                same = module.split(".")[0] == name.split(".")[0]
                assert same, f"{name} imports {module}, a sibling subpackage"


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    for name, path in modules.items():
        for module, imported in _imports(path):
            if _row(module) is None or module == name or imported is None:
                continue
            assert not imported.startswith("_"), (name, module, imported)
        bound = {
            alias.asname or alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("keras_approxeq")
            for alias in node.names
        }
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
            ):
                assert not node.attr.startswith("_"), (
                    f"{name} uses {node.value.id}.{node.attr}"
                )


def test_no_import_cycles():
    modules = _modules()
    graph = {
        name: {m for m, _ in _imports(path) if m != name and m in modules}
        for name, path in modules.items()
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
            # A subpackage's __init__ imports its own modules; a module
            # importing a sibling through the subpackage is not a cycle.
            if module != name.rsplit(".", 1)[0]:
                visit(module)
        active.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_the_old_module_paths_import_as_the_same_modules():
    from keras_approxeq._legacy_paths import MOVED

    for old, new in MOVED.items():
        module = importlib.import_module(f"keras_approxeq.{new}")
        assert importlib.import_module(f"keras_approxeq.{old}") is module
    from keras_approxeq.diagnostics import equivariance_error  # 0.1: a module
    from keras_approxeq.groups import get
    from keras_approxeq.projectors import get_projector

    assert get is keras_approxeq.symmetry.groups.get
    assert get_projector is keras_approxeq.projection.get_projector
    assert equivariance_error is keras_approxeq.equivariance_error
    assert keras_approxeq.groups is keras_approxeq.symmetry.groups
    assert keras_approxeq.regularize is keras_approxeq.penalties.regularize


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


def _resolve(dotted):
    """The object a `::: dotted.name` entry documents, found attribute by
    attribute as mkdocstrings does (`keras_approxeq.regularize` is the
    function, not the module path 0.1 had under that name)."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, name in enumerate(parts[1:], 2):
        if not hasattr(obj, name):
            importlib.import_module(".".join(parts[:i]))
        obj = getattr(obj, name)
    return obj


def test_the_api_reference_documents_exactly_the_public_names():
    """Every name in `keras_approxeq.__all__` and in the `__all__` of its
    subpackages has an entry in `docs/api/` (its own, or its module's),
    and every entry there is public or an internal module of `kernels` or
    `projection` (the internals page, for contributors)."""
    api = pathlib.Path(__file__).parents[1] / "docs" / "api"
    entries = {
        line.split()[1]: _resolve(line.split()[1])
        for page in api.glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
    module = type(keras_approxeq)
    public = {}
    for name in keras_approxeq.__all__:
        obj = getattr(keras_approxeq, name)
        if isinstance(obj, module):
            for inner in obj.__all__:
                public[f"{obj.__name__}.{inner}"] = getattr(obj, inner)
        elif name != "__version__":
            public[f"keras_approxeq.{name}"] = obj
    documented = {id(obj) for obj in entries.values()}
    pages = {
        obj.__name__ for obj in entries.values() if isinstance(obj, module)
    }
    missing = [
        name
        for name, obj in public.items()
        if id(obj) not in documented
        and getattr(obj, "__module__", None) not in pages
    ]
    assert missing == [], "public names without an entry"
    public_ids = {id(obj) for obj in public.values()}
    internal = ("keras_approxeq.kernels.", "keras_approxeq.projection.")
    stray = [
        entry
        for entry, obj in entries.items()
        if id(obj) not in public_ids
        and not (isinstance(obj, module) and obj.__name__.startswith(internal))
    ]
    assert stray == [], "entries of no public name"
