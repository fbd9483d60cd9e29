"""Checks a built docs site for Markdown and docstrings that did not render.

    mkdocs build --strict --site-dir site
    python docs/scripts/check_site.py site

`mkdocs build --strict` accepts a page whose table or doctest came out as
plain text, and an API entry with no docstring. This scans every HTML
page of the built site for:

- raw tables: a paragraph with a line that starts with `|` and has a
  `|---` delimiter (a cell such as `||T||` breaks a Markdown table);
- doctests as block quotes: `>>>` rendered as three nested block quotes;
- API objects (mkdocstrings) rendered without a docstring;
- private base classes (`Bases: _Private`) shown in the API reference;
- table columns with a header and no content in any row (e.g. an empty
  "Type" column).

It exits with status 1 and one line per problem if it finds any. It needs
only the standard library.
"""

import argparse
import html.parser
import pathlib
import re
import sys

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
_TABLE_DELIMITER = re.compile(r"\|\s*:?-{3,}")


class Node:
    """An element of the parsed page: a tag, its classes and children."""

    def __init__(self, tag, attrs, parent=None):
        self.tag = tag
        self.attrs = dict(attrs)
        self.classes = set((self.attrs.get("class") or "").split())
        self.parent = parent
        self.children = []  # Nodes and strings

    def elements(self, tag=None):
        """The child elements (optionally only those with `tag`)."""
        return [
            c
            for c in self.children
            if isinstance(c, Node) and (tag is None or c.tag == tag)
        ]

    def iter(self, tag=None):
        """This element and its descendants, depth first."""
        if tag is None or self.tag == tag:
            yield self
        for child in self.elements():
            yield from child.iter(tag)

    def text(self):
        return "".join(
            c if isinstance(c, str) else c.text() for c in self.children
        )


class _TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [])
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, attrs, self.stack[-1]))

    def handle_endtag(self, tag):
        # Close up to the matching open element; ignore stray end tags.
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(text):
    """Parses an HTML page into a tree of `Node`s; returns its root."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def _object_name(obj):
    for heading in obj.elements():
        if "doc-heading" in heading.classes:
            return heading.attrs.get("id") or " ".join(heading.text().split())
    return "<unnamed object>"


def _where(node):
    """` (in <API object>)` for a node inside one, else ``."""
    while node is not None and "doc-object" not in node.classes:
        node = node.parent
    return f" (in {_object_name(node)})" if node is not None else ""


def _raw_tables(root):
    for p in root.iter("p"):
        lines = [line.strip() for line in p.text().splitlines()]
        rows = [line for line in lines if line.startswith("|")]
        if any(_TABLE_DELIMITER.search(row) for row in rows):
            yield f"unrendered Markdown table{_where(p)}: {rows[0][:70]!r}"


def _quoted_doctests(root):
    for quote in root.iter("blockquote"):
        inner = quote.elements("blockquote")
        if (
            inner
            and inner[0].elements("blockquote")
            and (quote.parent is None or quote.parent.tag != "blockquote")
        ):
            first = " ".join(quote.text().split())[:60]
            yield (
                f"doctest rendered as nested block quotes{_where(quote)}: "
                f"{first!r}"
            )


_NOT_DOCSTRING = {"doc-class-bases", "doc-children", "doc-signature"}


def _empty_objects(root):
    for obj in root.iter("div"):
        if "doc-object" not in obj.classes:
            continue
        contents = [
            c for c in obj.elements("div") if "doc-contents" in c.classes
        ]
        if not contents:
            continue
        body = [
            c
            for c in contents[0].children
            if (isinstance(c, str) and c.strip())
            or (
                isinstance(c, Node)
                and c.tag != "details"  # the source code
                and not (c.classes & _NOT_DOCSTRING)
            )
        ]
        if not body:
            yield f"API object without a docstring: {_object_name(obj)}"


def _private_bases(root):
    for p in root.iter("p"):
        if "doc-class-bases" not in p.classes:
            continue
        for code in p.iter("code"):
            # `<code><span title="module.Base">Base</span></code>`, or
            # `<code>Base</code>` when the base is not resolved.
            spans = [e for e in code.iter("span") if e.attrs.get("title")]
            path = spans[0].attrs["title"] if spans else ""
            name = path.rsplit(".", 1)[-1] if path else code.text().strip()
            if name.startswith("_") and not name.startswith("__"):
                yield f"private base class {path or name} shown{_where(p)}"
                break


def _empty_columns(root):
    for table in root.iter("table"):
        headers = [" ".join(th.text().split()) for th in table.iter("th")]
        rows = [
            tr.elements("td")
            for tr in table.iter("tr")
            if tr.elements("td") and len(tr.elements("td")) == len(headers)
        ]
        if not headers or not rows:
            continue
        for i, header in enumerate(headers):
            if header and not any(row[i].text().strip() for row in rows):
                yield (
                    f"table column {header!r} is empty in every row"
                    f"{_where(table)}"
                )


CHECKS = (
    _raw_tables,
    _quoted_doctests,
    _empty_objects,
    _private_bases,
    _empty_columns,
)


def check_page(text):
    """The problems found in one HTML page, as messages."""
    root = parse(text)
    return [message for check in CHECKS for message in check(root)]


def check_site(site):
    """The problems found in a built site, as `(page, message)` pairs."""
    site = pathlib.Path(site)
    problems = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for message in check_page(text):
            problems.append((page.relative_to(site).as_posix(), message))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", default="site", help="built site")
    args = parser.parse_args(argv)
    site = pathlib.Path(args.site)
    if not (site / "index.html").is_file():
        print(f"check_site: no built site at {site}/ (run mkdocs build)")
        return 2
    problems = check_site(site)
    for page, message in problems:
        print(f"{page}: {message}")
    if problems:
        print(
            f"check_site: {len(problems)} rendering problem(s) in {site}/; "
            "see docs/scripts/check_site.py for what each means."
        )
        return 1
    pages = sum(1 for _ in site.rglob("*.html"))
    print(f"check_site: {pages} pages rendered cleanly.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
