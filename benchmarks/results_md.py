"""One writer for the benchmarks' sections of RESULTS.md: each script owns the block between its
``<!-- name:start -->`` and ``<!-- name:end -->`` markers and replaces it (or appends it) atomically."""

import os
import re

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def markers(name):
    """The start and end markers of section ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(name, body, path=RESULTS):
    """Put ``body`` (the text between the markers) in section ``name`` of ``path``; other sections stay."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmark results\n"
    if start in old and end in old:
        new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)
