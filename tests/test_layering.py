"""The package's layers import only downward: every import in src/cnnlab, read with ``ast``, is checked.

Each top-level name under ``cnnlab`` (a module or a package) has a level; a module may import its own
unit and any unit on a lower level. Imports inside functions count too (they run, just later). Two
kinds of import cross the rule on purpose and are listed with their reason:

- ``SAME_LEVEL``: one-way imports between units of one level. ``inspect -> train`` is allowed (a report
  or a visualisation reads a training run: its checkpoint and saved model); ``train -> inspect`` is not
  (``cnnlab train`` writes the report from the CLI), so the two never form a cycle.
- ``EXCEPTIONS``: ``tensor -> functional``, ``Tensor``'s operator methods calling the ops, as
  ``torch.Tensor`` does.

No cycle is allowed between units in any case. A new top-level module fails this test until it is given
a level below.
"""

import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "src", "cnnlab")

# Top first. A unit is a name, or several names that form one unit (they may import each other).
LEVELS = [
    ("cnnlab", "cli", "live", "bench"),              # `import cnnlab` (the public API), commands, views
    ("train", "inspect", "interop", "distributed", "utils", "vision"),  # utils, vision: PyTorch's names
    ("runs",),                                        # a finished run as data: tasks, evaluation
    ("models",),
    ("nn", "optim", "data", "ops", "creation"),     # ops, creation: torch.max, torch.full, ...
    ("functional", "metrics", "serialization",       # serialization: cnnlab.save/load of tensors
     "collectives"),                                 # the MPI world under distributed, nn.parallel
    ("autograd+tensor", "kernels", "cuda", "accelerator"),  # Tensor and the engine; torch.cuda
    ("backend",),
    ("validation", "resources", "pytorch_names"),    # argument checks; file names, special files and
                                                     # memory; PyTorch's names: import nothing
]
SAME_LEVEL = {
    ("inspect", "train"): "reports and visualisations read a training run (checkpoint, saved model)",
    ("train", "interop"): "fine-tuning starts from a PyTorch or safetensors state dict",
    ("cli", "live"): "`cnnlab train --live` starts the live view",
    ("cli", "bench"): "`cnnlab bench` (until the harness has left the package)",
    ("bench", "cnnlab"): "the benchmark harness uses the public API, as a user does",
    ("train", "distributed"): "the trainer all-reduces gradients when run under MPI",
    ("utils", "distributed"): "torch.utils.data.distributed's DistributedSampler is cnnlab's",
}
EXCEPTIONS = {
    ("autograd+tensor", "functional"): "Tensor's operator methods call functional, as torch.Tensor does",
}


def unit_of(name):
    """The unit a top-level name belongs to (``tensor`` -> ``autograd+tensor``)."""
    for level in LEVELS:
        for unit in level:
            if name in unit.split("+"):
                return unit
    return None


def level_of(unit):
    return next(i for i, level in enumerate(LEVELS) if unit in level)


def _top_names():
    return {n[:-3] if n.endswith(".py") else n for n in os.listdir(SRC)
            if (n.endswith(".py") and n != "__init__.py") or os.path.isfile(os.path.join(SRC, n, "__init__.py"))}


def _root_exports():
    """Names the root ``cnnlab/__init__.py`` re-exports -> the top-level name they come from; its own
    assignments (``__version__``) map to None: constants anyone may read."""
    tree = ast.parse(open(os.path.join(SRC, "__init__.py"), encoding="utf-8").read())
    exports = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                exports[alias.asname or alias.name] = (node.module or alias.name).split(".")[0]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    exports[target.id] = None
    return exports


def _modules():
    """(dotted module name, is package, path) for every .py file under src/cnnlab."""
    for dirpath, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.join(SRC, ".."))[:-3].replace(os.sep, ".")
                is_pkg = f == "__init__.py"
                yield (rel[: -len(".__init__")] if is_pkg else rel), is_pkg, path


def _targets(node, module, is_pkg):
    """Dotted names an import statement reaches: ``cnnlab.x.y`` for each imported name."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module
    else:
        parts = module.split(".") if is_pkg else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" for alias in node.names]


def import_edges():
    """``[(from unit, to unit, where)]`` for every import of another cnnlab unit in the package."""
    tops, exports = _top_names(), _root_exports()
    edges = []
    for module, is_pkg, path in _modules():
        parts = module.split(".")
        if len(parts) == 1:
            continue  # the root package re-exports the public names: it sits above everything
        source = parts[1]
        tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, module, is_pkg):
                tparts = target.split(".")
                if tparts[0] != "cnnlab":
                    continue
                if len(tparts) == 1:
                    name = "cnnlab"          # `import cnnlab`: the whole package
                elif tparts[1] in tops:
                    name = tparts[1]
                elif tparts[1] in exports:
                    name = exports[tparts[1]]
                    if name is None:
                        continue             # a constant of the root package (__version__)
                else:
                    name = "cnnlab"
                edges.append((source, name, f"{module} line {node.lineno}: imports {target}"))
    return edges


def violations(edges):
    """Messages for unknown names, upward imports, undeclared same-level imports and cycles."""
    problems = []
    graph = {}
    for source, target, where in edges:
        a, b = unit_of(source), unit_of(target)
        if a is None or b is None:
            unknown = source if a is None else target
            problems.append(f"{where}: {unknown!r} has no level; add it to LEVELS in tests/test_layering.py")
            continue
        if a == b:
            continue
        graph.setdefault(a, set()).add(b)
        if (a, b) in EXCEPTIONS:
            continue
        la, lb = level_of(a), level_of(b)
        if la > lb:
            problems.append(f"{where}: upward import, {a} (level {la}) imports {b} (level {lb})")
        elif la == lb and (a, b) not in SAME_LEVEL:
            problems.append(f"{where}: {a} and {b} share a level and {a} -> {b} is not in SAME_LEVEL")
    state = {}

    def visit(unit, path):
        state[unit] = "open"
        for nxt in sorted(graph.get(unit, ())):
            if (unit, nxt) in EXCEPTIONS:
                continue
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                problems.append(f"import cycle: {' -> '.join(cycle)}")
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[unit] = "done"

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    return problems


def test_every_import_in_the_package_points_down():
    edges = import_edges()
    assert len(edges) > 100                              # the parser found the package's imports
    assert violations(edges) == []


def test_every_top_level_module_has_a_level():
    missing = sorted(n for n in _top_names() if unit_of(n) is None)
    assert missing == [], f"give these a level in LEVELS: {missing}"


@pytest.mark.parametrize("edges,expected", [
    ([("nn", "train", "nn/module.py line 3: imports cnnlab.train.transfer")],
     "nn/module.py line 3: imports cnnlab.train.transfer: upward import, nn (level 4) imports train (level 1)"),
    ([("train", "inspect", "w")], "w: train and inspect share a level and train -> inspect is not in SAME_LEVEL"),
    ([("shiny", "nn", "w")], "w: 'shiny' has no level; add it to LEVELS in tests/test_layering.py"),
    ([("tensor", "functional", "t"), ("functional", "tensor", "f")], None),
    ([("inspect", "train", "a"), ("train", "inspect", "b")], "import cycle: inspect -> train -> inspect"),
])
def test_the_checker_flags_upward_imports_unknown_names_and_cycles(edges, expected):
    problems = violations(edges)
    if expected is None:
        assert problems == []                            # the named exception, and an ordinary import
    else:
        assert expected in problems


def test_relative_imports_resolve_to_the_right_unit():
    by_module = {}
    for source, target, where in import_edges():
        by_module.setdefault(where.split(" line ")[0], set()).add(target)
    assert "backend" in by_module["cnnlab.tensor"]                 # from . import backend
    assert "models" in by_module["cnnlab.train.saved"]             # from .. import backend, models
    assert "cnnlab.validation" not in by_module                    # it imports nothing from cnnlab
