"""Tests of `docs/scripts/check_site.py` on small HTML pages.

The script is standard-library only, so these run without mkdocs.
"""

import importlib.util
import pathlib

import pytest

SCRIPT = (
    pathlib.Path(__file__).resolve().parents[1]
    / "docs"
    / "scripts"
    / "check_site.py"
)


@pytest.fixture(scope="module")
def check_site():
    spec = importlib.util.spec_from_file_location("check_site", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _api_object(name, contents, cls="doc-class"):
    return (
        f'<div class="doc doc-object {cls}">'
        f'<h2 id="{name}" class="doc doc-heading"><code>{name}</code></h2>'
        f'<div class="doc doc-contents first">{contents}'
        '<div class="doc doc-children"></div></div></div>'
    )


CLEAN = (
    "<html><body><p>Text with <code>||T||</code> | pipes.</p>"
    "<table><thead><tr><th>a</th><th>b</th></tr></thead>"
    "<tbody><tr><td>1</td><td>2</td></tr></tbody></table>"
    + _api_object(
        "pkg.Documented",
        '<p class="doc doc-class-bases">Bases: <code>'
        '<span title="keras.layers.Conv2D">Conv2D</span></code></p>'
        "<p>A docstring.</p><br>",
    )
    + "<div class='highlight'><pre><code>&gt;&gt;&gt; 1 + 1\n2</code></pre>"
    "</div></body></html>"
)


def test_clean_page_passes(check_site):
    assert check_site.check_page(CLEAN) == []


def test_raw_table(check_site):
    page = "<p>| a | ||T|| |\n|---|---|\n| 1 | 2 |</p>"
    (message,) = check_site.check_page(page)
    assert "unrendered Markdown table" in message
    assert "| a | ||T|| |" in message


def test_doctest_as_block_quotes(check_site):
    page = _api_object(
        "pkg.f",
        "<p>Example:</p><blockquote><blockquote><blockquote>"
        "<p>f(1)\n2</p></blockquote></blockquote></blockquote>",
        cls="doc-function",
    )
    (message,) = check_site.check_page(page)
    assert "nested block quotes (in pkg.f)" in message


def test_object_without_docstring(check_site):
    page = _api_object(
        "pkg.Empty",
        '<p class="doc doc-class-bases">Bases: <code>'
        '<span title="pkg._Private">_Private</span></code></p>',
    )
    messages = check_site.check_page(page)
    assert "API object without a docstring: pkg.Empty" in messages
    assert "private base class pkg._Private shown (in pkg.Empty)" in messages


def test_empty_type_column(check_site):
    page = _api_object(
        "pkg.g",
        "<p>Doc.</p><table><thead><tr><th>Name</th><th>Type</th>"
        "<th>Description</th></tr></thead><tbody>"
        "<tr><td>x</td><td></td><td>The x.</td></tr>"
        "<tr><td>y</td><td> </td><td>The y.</td></tr></tbody></table>",
        cls="doc-function",
    )
    (message,) = check_site.check_page(page)
    assert "column 'Type' is empty in every row (in pkg.g)" in message


def test_main_exit_status(check_site, tmp_path, capsys):
    (tmp_path / "index.html").write_text(CLEAN, encoding="utf-8")
    assert check_site.main([str(tmp_path)]) == 0

    broken = tmp_path / "page" / "index.html"
    broken.parent.mkdir()
    broken.write_text("<p>| a |\n|---|</p>", encoding="utf-8")
    assert check_site.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "page/index.html: unrendered Markdown table" in out

    assert check_site.main([str(tmp_path / "missing")]) == 2
