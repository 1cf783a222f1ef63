"""leaderboard.html in a real headless Chromium: loads without console errors, all rows, sorting works, the
headline figure is the first image and loads, the --notes Markdown is rendered."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from harness.report.build import report
from tests.helpers.runs import synthetic_grid

CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).is_file()), None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


class _Table(HTMLParser):
    """Rows of <table id=results>: each row the list of its cells' data-v (or text)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None
        self.body_attrs: dict[str, str | None] = {}
        self.keys: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body_attrs = a
        if tag == "table":
            self.inside = a.get("id") == self.table_id
            if self.inside:
                self.table_attrs = a
        if not self.inside:
            return
        if tag == "th":
            self.keys.append(a.get("data-key"))
        if tag == "tr":
            self.rows.append([])
        if tag == "td":
            self.cell = a.get("data-v")
            self.rows[-1].append(self.cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False


# --notes Markdown as docs/demo.md writes it: bold, a bullet list with code spans and a (relative) link
NOTES = (
    "**Demo deviations** (see `configs/demo.toml`):\n"
    "- Task `emoji` instead of THINGS photographs\n"
    "- Encoder EfficientNet-Lite0, see [encoders](docs/encoders.md)\n"
    "- Two seeds instead of three"
)
NOTES_ITEMS = [
    "Task emoji instead of THINGS photographs",
    "Encoder EfficientNet-Lite0, see encoders",
    "Two seeds instead of three",
]
# appended to a copy of the page: once everything (images included) has loaded, what the browser made of
# the page goes into attributes of <body>, which --dump-dom shows
PROBE = """<script>window.addEventListener('load', function(){
  var img = document.images[0], b = document.body;
  b.setAttribute('data-first-img', img.closest('figure').id);
  b.setAttribute('data-img-width', String(img.naturalWidth));
  b.setAttribute('data-img-complete', String(img.complete));
  b.setAttribute('data-n-images', String(document.images.length));
  b.setAttribute('data-notes', JSON.stringify(Array.prototype.map.call(
    document.querySelectorAll('.notes ul > li'), function(li){ return li.textContent; })));
  b.setAttribute('data-notes-code', String(document.querySelectorAll('.notes li code').length));
  b.setAttribute('data-results-rows', String(document.querySelectorAll('#results tbody tr').length));
  b.setAttribute('data-headline-rows', String(document.querySelectorAll('#headline tbody tr').length));
});</script>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("runs")
    synthetic_grid(root)
    out = report([root], tmp_path_factory.mktemp("board"), notes=NOTES)
    return out / "leaderboard.html", json.loads((out / "analysis.json").read_text())


def test_no_external_references(page):
    html = page[0].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html


def _chromium(url: str, tmp: Path) -> tuple[str, str]:
    if CHROMIUM is None:
        pytest.skip("Chromium not installed (/usr/bin/chromium); apt-get install chromium to run this test")
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_browser_loads_and_sorts(page, tmp_path, direction):
    html_path, board = page
    dom, log = _chromium(f"{html_path.as_uri()}#sort=macro_f1:{direction}", tmp_path)
    console = [line for line in log.splitlines() if "CONSOLE" in line]
    assert console == [], console  # the page logs nothing: any console line is an error or a CSP violation
    parser = _Table("results")
    parser.feed(dom)
    assert parser.body_attrs.get("data-ready") == "1"  # the script ran to the end
    assert parser.table_attrs.get("data-sorted") == f"macro_f1:{direction}"
    rows = [r for r in parser.rows if r]
    assert len(rows) == len(board["rows"])
    col = parser.keys.index("macro_f1")
    values = [float(r[col]) for r in rows]
    assert values == sorted(values, reverse=direction == "desc")
    assert sorted(values) == pytest.approx(sorted(r["macro_f1"] for r in board["rows"]))
    head = _Table("headline")
    head.feed(dom)
    assert len([r for r in head.rows if r]) == len(board["headline"])


def test_browser_unsorted_keeps_file_order(page, tmp_path):
    html_path, board = page
    dom, _ = _chromium(html_path.as_uri(), tmp_path)
    parser = _Table("results")
    parser.feed(dom)
    assert "data-sorted" not in parser.table_attrs
    col = parser.keys.index("macro_f1")
    assert [float(r[col]) for r in parser.rows if r] == pytest.approx([r["macro_f1"] for r in board["rows"]])


@pytest.mark.parametrize("clicks,direction", [(1, "desc"), (2, "asc")])
def test_browser_header_click_sorts(page, tmp_path, clicks, direction):
    html_path, board = page
    click = "document.querySelector('#results th[data-key=n_categories]').click();" * clicks
    copy = tmp_path / "clicked.html"
    copy.write_text(html_path.read_text().replace("</body>", f"<script>{click}</script></body>"))
    dom, log = _chromium(copy.as_uri(), tmp_path)
    assert [line for line in log.splitlines() if "CONSOLE" in line] == []
    parser = _Table("results")
    parser.feed(dom)
    assert parser.table_attrs.get("data-sorted") == f"n_categories:{direction}"
    col = parser.keys.index("n_categories")
    values = [float(r[col]) for r in parser.rows if r]
    assert values == sorted(values, reverse=direction == "desc") and len(set(values)) > 1


def test_browser_headline_figure_and_notes(page, tmp_path):
    """The page as the browser builds it: no console output, every row of both tables, the headline figure
    first among the images and loaded (naturalWidth > 0, the PNG's width), the notes as a list."""
    html_path, board = page
    copy = tmp_path / "probed.html"
    copy.write_text(html_path.read_text().replace("</body>", f"{PROBE}</body>"))
    dom, log = _chromium(copy.as_uri(), tmp_path)
    assert [line for line in log.splitlines() if "CONSOLE" in line] == []
    parser = _Table("results")
    parser.feed(dom)
    body = parser.body_attrs
    assert body.get("data-ready") == "1"
    assert int(body["data-results-rows"]) == len(board["rows"]) == len([r for r in parser.rows if r])
    assert int(body["data-headline-rows"]) == len(board["headline"])
    assert body["data-first-img"] == "headline-figure"
    assert body["data-img-complete"] == "true" and int(body["data-img-width"]) > 0
    with Image.open(html_path.parent / "plots" / "headline.png") as img:
        assert int(body["data-img-width"]) == img.width >= 1200
    assert int(body["data-n-images"]) == sum("file" in p for p in board["plots"].values())
    assert json.loads(body["data-notes"]) == NOTES_ITEMS
    assert int(body["data-notes-code"]) == 1
