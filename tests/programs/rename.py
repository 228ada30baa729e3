"""Rename a PyTorch program's imports to cnnlab's, touching no other line (issue 22's rule).

``torch`` becomes ``cnnlab`` and ``torchvision`` becomes ``cnnlab.vision``, in import statements
only; the names the program uses stay bound as before:

    import torch                          ->  import cnnlab as torch
    import torch.nn as nn                 ->  import cnnlab.nn as nn
    import torch.nn.functional as F       ->  import cnnlab.nn.functional as F
    import torchvision                    ->  import cnnlab.vision as torchvision
    from torch.utils.data import X        ->  from cnnlab.utils.data import X
    from torchvision import datasets      ->  from cnnlab.vision import datasets

Usage: ``python rename.py program.py > renamed.py``.
"""

import re
import sys

_PACKAGES = {"torch": "cnnlab", "torchvision": "cnnlab.vision"}
_IMPORT = re.compile(r"^(\s*)import\s+(.+?)\s*(#.*)?$")
_FROM = re.compile(r"^(\s*)from\s+([\w.]+)\s+import\s+(.+)$")


def _module(name):
    """``torch.nn`` -> ``cnnlab.nn``; None for a module outside torch and torchvision."""
    top, _, rest = name.partition(".")
    if top not in _PACKAGES:
        return None
    return _PACKAGES[top] + ("." + rest if rest else "")


def _import_item(item):
    """One ``name [as alias]`` of an import statement, renamed; the name the program sees stays."""
    name, _, alias = (part.strip() for part in item.partition(" as "))
    target = _module(name)
    if target is None:
        return item.strip()
    if alias:
        return f"{target} as {alias}"
    top = name.split(".")[0]
    if "." not in name:
        return f"{target} as {top}"                        # import torch -> import cnnlab as torch
    # import torch.nn (binds `torch`): import the submodule, then bind the top name
    return f"{target}; import {_PACKAGES[top]} as {top}"


def rename_line(line):
    """``line`` with torch/torchvision imports renamed; any other line comes back unchanged."""
    m = _FROM.match(line)
    if m:
        indent, module, names = m.groups()
        target = _module(module)
        return line if target is None else f"{indent}from {target} import {names}"
    m = _IMPORT.match(line)
    if m:
        indent, items, comment = m.groups()
        if not any(_module(i.strip().split(" ")[0]) for i in items.split(",")):
            return line
        renamed = "; import ".join(_import_item(i) for i in items.split(","))
        return f"{indent}import {renamed}" + (f"  {comment}" if comment else "")
    return line


def rename_imports(source):
    """The program's text with its import lines renamed (other lines byte for byte the same)."""
    return "".join(rename_line(line[:-1]) + "\n" if line.endswith("\n") else rename_line(line)
                   for line in source.splitlines(keepends=True))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(rename_imports(f.read()))
