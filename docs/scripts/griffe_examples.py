"""A Griffe extension: render the docstrings' `Example:` blocks as code.

The package's docstrings end with an example written as

    Example:

    >>> get("C4").order
    4

with the doctest at the docstring's own indentation, so that
`pytest --doctest-modules` runs it as is. Griffe's Google parser reads an
`Examples:` section only when its content is indented under the title,
and otherwise passes the lines on as Markdown, where `>>>` is three nested
block quotes. Before parsing, this extension rewrites such a block (only
the copy that the docs render, never the source) into

    Examples:
        >>> get("C4").order
        4

which Griffe renders as a highlighted `pycon` code block. Registered in
`mkdocs.yml` under the mkdocstrings Python handler's `extensions`.
"""

import re

import griffe

_HEADER = re.compile(r"^(?P<indent> *)Examples?:\s*$")
# The Google-style section titles that end an example block.
_SECTION = re.compile(
    r"^ *(Args|Arguments|Attributes|Examples?|Methods|Notes?|Params|"
    r"Parameters|Raises|Returns|See Also|Warnings?|Warns|Yields):\s*$"
)


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def rewrite(value):
    """`value` with each `Example:` block as an indented `Examples:` one."""
    lines = value.split("\n")
    out = []
    i = 0
    while i < len(lines):
        match = _HEADER.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = len(match.group("indent"))
        start = i + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start == len(lines):  # an empty section: leave it alone
            out.extend(lines[i:])
            break
        end = start
        while end < len(lines):
            line = lines[end]
            if line.strip() and _indent(line) < indent:
                break
            if end > start and _SECTION.match(line) and _indent(line) == indent:
                break
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        deeper = _indent(lines[start]) > indent
        out.append(" " * indent + "Examples:")
        for line in lines[start:end]:
            if deeper or not line.strip():
                out.append(line)
            else:
                out.append("    " + line)
        # Keep a blank line before whatever follows the block.
        if end < len(lines) and lines[end].strip():
            out.append("")
        i = end
    return "\n".join(out)


class ExamplesSection(griffe.Extension):
    """Turns unindented `Example:` blocks into Google `Examples:` sections."""

    def on_object(self, *, obj, **kwargs):
        docstring = obj.docstring
        if docstring is not None and "xample" in docstring.value:
            docstring.value = rewrite(docstring.value)
