"""The package's layers import only downward: every import in src/cnnlab, read with ``ast``, is checked.

Each top-level name under ``cnnlab`` (a module or a package) has a level; a module may import its own
unit and any unit on a lower level, never a unit of its own level or above. Imports inside functions
count too (they run, just later). One kind of import crosses the rule on purpose and is listed with
its reason in ``EXCEPTIONS``: ``tensor -> functional``, ``Tensor``'s operator methods calling the ops,
as ``torch.Tensor`` does.

No cycle is allowed between units in any case. A new top-level module fails this test until it is given
a level below. When ``../shared/DESIGN.md`` is present, its picture must agree with these levels: the
one-way flow in its first bold sentence (arrays -> kernels -> ... -> command line), the entries its
Layout block lists under ``src/cnnlab/``, and each "below X and Y" written beside one.
"""

import ast
import os
import re

import pytest

SRC = os.path.join(os.path.dirname(__file__), "..", "src", "cnnlab")
DESIGN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "DESIGN.md")

# Top first. A unit is a name, or several names that form one unit (they may import each other).
LEVELS = [
    ("cnnlab", "cli"),                                  # `import cnnlab` (the public API), commands
    ("train", "inspect", "interop", "utils", "vision"),  # the recipe; reading models; PyTorch's names
    ("runs", "live", "distributed"),                    # a finished run as data; the live view; MPI
    ("models",),
    ("nn", "optim", "data", "ops", "creation"),         # ops, creation: torch.max, torch.full, ...
    ("functional", "metrics", "boxes",                  # boxes: IoU, NMS, AP on arrays
     "serialization", "collectives"),                   # the one npz+JSON format; MPI under distributed
    ("autograd+tensor", "kernels", "cuda", "accelerator"),  # Tensor and the engine; torch.cuda
    ("backend",),
    ("validation", "resources", "pytorch_names"),       # argument checks; file names, special files and
                                                        # memory; PyTorch's names: import nothing
]
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
    """Messages for unknown names, upward imports, imports within a level and cycles."""
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
        elif la == lb:
            problems.append(f"{where}: {a} and {b} share a level (level {la}); neither may import the other")
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
    ([("train", "inspect", "w")], "w: train and inspect share a level (level 1); neither may import the other"),
    ([("inspect", "train", "w")], "w: inspect and train share a level (level 1); neither may import the other"),
    ([("train", "interop", "w")], "w: train and interop share a level (level 1); neither may import the other"),
    ([("inspect", "runs", "w"), ("train", "live", "w"), ("cli", "train", "w")], None),
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
    assert "models" in by_module["cnnlab.runs.saved"]             # from .. import backend, models
    assert "cnnlab.validation" not in by_module                    # it imports nothing from cnnlab


# The design's one-way flow (its first bold sentence), stage by stage, as units of LEVELS.
DESIGN_STAGES = {
    "arrays": ("backend",),
    "kernels": ("kernels",),
    "Tensor ops": ("functional",),
    "layers": ("nn",),
    "models": ("models",),
    "training / evaluation / inspection": ("train", "runs", "inspect"),  # evaluation: runs/
    "command line and reports": ("cli",),
}


def design_flow(text):
    """The stages of the design's flow sentence (``**a → b (note) → c.**``), bottom first, with
    parenthesised notes dropped; None when the text has no such sentence."""
    match = re.search(r"\*\*([^*]*→[^*]*)\*\*", text)
    if match is None:
        return None
    stages = re.sub(r"\([^)]*\)", "", match.group(1)).rstrip(". ").split("→")
    return [" ".join(stage.split()) for stage in stages]


def design_layout(text):
    """``{top-level name: its description}`` for the entries directly under ``src/cnnlab/`` in the
    design's Layout block (``utils/data, vision/`` gives utils and vision)."""
    match = re.search(r"^## Layout\s*^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    if match is None:
        return None
    entries, inside, last = {}, False, []
    for line in match.group(1).splitlines():
        if line.startswith("src/cnnlab/"):
            inside = True
        elif inside and re.match(r"\S", line):
            break                                        # tests/, benchmarks/: out of the package
        elif inside and re.match(r" {2}\S", line):
            names, _, description = line.strip().partition("  ")
            last = [re.split(r"[/.]", name.strip())[0] for name in names.split(",")]
            for name in last:
                entries[name] = description.strip()
        elif inside and re.match(r" {3,}\S", line) and "  " not in line.strip():
            for name in last:                            # a description's next line
                entries[name] += " " + line.strip()
        elif inside:
            last = []                                    # a file inside a folder, and its lines
    return entries


def flow_problems(stages):
    """Messages where the flow's order disagrees with LEVELS: each stage must sit above the one before."""
    problems = []
    for stage in stages:
        if stage not in DESIGN_STAGES:
            problems.append(f"the design's stage {stage!r} has no units; add it to DESIGN_STAGES")
    known = [DESIGN_STAGES[s] for s in stages if s in DESIGN_STAGES]
    for lower, upper in zip(known, known[1:]):
        for a in upper:
            for b in lower:
                if level_of(a) >= level_of(b):
                    problems.append(f"the design draws {a} above {b}, LEVELS puts it at level "
                                    f"{level_of(a)} against {level_of(b)}")
    return problems


def layout_problems(entries):
    """Messages for Layout entries with no level, and for "below X and Y" the levels contradict."""
    problems = []
    for name, description in entries.items():
        unit = unit_of(name)
        if unit is None:
            problems.append(f"the design lists {name!r}, which has no level in LEVELS")
            continue
        below = re.search(r"\bbelow ([\w ,]+?)(?:\)|$)", description)
        for other in re.split(r",| and ", below.group(1)) if below else ():
            other_unit = unit_of(other.strip())
            if other_unit is None or level_of(unit) <= level_of(other_unit):
                problems.append(f"the design puts {name} below {other.strip()}; LEVELS does not")
    return problems


def test_the_design_draws_the_same_levels():
    if not os.path.isfile(DESIGN):
        pytest.skip("../shared/DESIGN.md is not beside this checkout")
    text = open(DESIGN, encoding="utf-8").read()
    stages, entries = design_flow(text), design_layout(text)
    assert stages is not None, "DESIGN.md has no bold flow sentence (arrays → kernels → ...)"
    assert entries, "DESIGN.md has no Layout block listing src/cnnlab/"
    assert flow_problems(stages) == []
    assert layout_problems(entries) == []
    assert {"kernels", "functional", "nn", "runs", "train", "inspect", "cli"} <= set(entries)


def test_every_unit_in_levels_exists():
    names = {name for level in LEVELS for unit in level for name in unit.split("+")} - {"cnnlab"}
    assert sorted(names - _top_names()) == [], "drop units that are gone from LEVELS"


DRAWN = """# d

The data flows one way: **arrays → kernels → Tensor ops (forward, backward) → layers → models →
training / evaluation / inspection → command line and reports.** Each layer ...

## Layout

```
README.md                 what it is
src/cnnlab/
  backend.py              the array module
  functional/             pure ops
    conv.py               conv2d,
                          conv_output_size
  runs/                   a finished run as data
                          (below train and inspect)
  utils/data, vision/     PyTorch's names
tests/                    mirrors src/cnnlab
```
"""


def test_the_design_picture_is_read_as_drawn():
    assert design_flow(DRAWN) == ["arrays", "kernels", "Tensor ops", "layers", "models",
                                  "training / evaluation / inspection", "command line and reports"]
    assert design_layout(DRAWN) == {"backend": "the array module", "functional": "pure ops",
                                    "runs": "a finished run as data (below train and inspect)",
                                    "utils": "PyTorch's names", "vision": "PyTorch's names"}
    assert design_flow("no flow here") is None and design_layout("## Layout\nno block\n") is None


def test_the_design_check_fails_when_the_picture_disagrees():
    assert flow_problems(["arrays", "kernels", "Tensor ops", "layers", "models"]) == []
    assert flow_problems(["models", "layers"]) == [
        "the design draws nn above models, LEVELS puts it at level 4 against 3"]
    assert flow_problems(["gears"]) == ["the design's stage 'gears' has no units; add it to DESIGN_STAGES"]
    assert layout_problems({"runs": "data (below train and inspect)"}) == []
    assert layout_problems({"train": "recipe (below runs)"}) == ["the design puts train below runs; LEVELS does not"]
    assert layout_problems({"bench": "gone"}) == ["the design lists 'bench', which has no level in LEVELS"]
