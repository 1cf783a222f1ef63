"""Static, self-contained leaderboard.html: inline CSS/JS, plots as data URIs, no network requests.

Markdown (the ``--notes`` text and the statistics) is rendered by markdown-it-py (CommonMark + tables) with
raw HTML disabled, so text cannot inject markup, and images disabled, so it cannot make the page load
anything.  Tables sort on a header click; ``#sort=<column>:<asc|desc>`` in the URL sorts the results table
on load.  When the script has run, ``<body data-ready="1">`` is set (the browser test reads it).
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd
from markdown_it import MarkdownIt

from harness.report.markdown import FLAG, LEGEND, flagged, fmt, provenance_lines, stats_md
from harness.report.table import LEAF_THRESHOLD

# CommonMark with GFM tables; raw HTML is escaped, images are not rendered (the CSP would block them)
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
FLAG_TITLE = (
    f"leaf F1 below {LEAF_THRESHOLD:g}: the precondition is not met, hypernym results not interpretable"
)
SHADING = f"In the tables below, rows marked {FLAG} are also shaded."

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
td.t,th.t{text-align:left}
th{background:#f2f2f2;cursor:pointer;user-select:none;position:sticky;top:0}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
tr.flag td{background:#fff4e0}
span.flag{color:#b35900;cursor:help}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
figure{margin:1em 0}figcaption{font-size:12px;color:#555}
figure.headline img{width:1200px}
p.reading{max-width:60em;background:#f7f7f7;border-left:3px solid #999;padding:.5em 1em}
.notes,.stats{max-width:60em}
code{background:#f2f2f2;padding:0 .2em;border-radius:3px}
ul.provenance{font-size:12px;color:#444}
.controls{margin:.5em 0}
"""

JS = """
(function(){
  function cellValue(tr, i){
    var td = tr.children[i]; var v = td.getAttribute('data-v');
    if (v === null) return td.textContent.trim().toLowerCase();
    if (v === '') return null;
    var n = Number(v); return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortTable(table, col, dir){
    var ths = table.tHead.rows[0].cells, i = -1;
    for (var k = 0; k < ths.length; k++){
      ths[k].classList.remove('asc','desc');
      if (ths[k].getAttribute('data-key') === col) i = k;
    }
    if (i < 0) return false;
    ths[i].classList.add(dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = cellValue(a, i), y = cellValue(b, i);
      if (x === null && y === null) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return dir === 'asc' ? c : -c;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    table.setAttribute('data-sorted', col + ':' + dir);
    return true;
  }
  window.taxobenchSort = sortTable;
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th){
      th.addEventListener('click', function(){
        var dir = th.classList.contains('desc') ? 'asc' : 'desc';
        sortTable(table, th.getAttribute('data-key'), dir);
      });
    });
  });
  var filter = document.getElementById('filter');
  if (filter) filter.addEventListener('input', function(){
    var q = filter.value.toLowerCase();
    Array.prototype.forEach.call(document.getElementById('results').tBodies[0].rows, function(r){
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
  var m = /sort=([A-Za-z0-9_]+):(asc|desc)/.exec(window.location.hash);
  if (m) sortTable(document.getElementById('results'), m[1], m[2]);
  document.body.setAttribute('data-ready', '1');
})();
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
# (key, header, text column?) of the results table
RESULT_COLUMNS = [
    ("model", "model", True),
    ("task", "task", True),
    ("subset", "subset", True),
    ("ablation_kind", "ablation", True),
    ("ablation_level", "level", False),
    ("shuffle", "shuffle", True),
    ("macro_f1", "macro F1", False),
    ("se", "SE", False),
    ("ci_low", "CI low", False),
    ("ci_high", "CI high", False),
    ("n_seeds", "seeds", False),
    ("n_categories", "categories", False),
    ("majority_f1", "majority", False),
    ("delta_majority", "Δ majority", False),
    ("delta_random_init", "Δ random init", False),
    ("leaf_f1", "leaf F1", False),
    ("leaf_precondition", "leaf precondition", True),
]
HEADLINE_COLUMNS = [
    ("rank", "#", False),
    ("model", "model", True),
    ("task", "task", True),
    ("macro_f1", "unseen F1", False),
    ("ci_low", "CI low", False),
    ("ci_high", "CI high", False),
    ("majority_f1", "majority", False),
    ("delta_majority", "Δ majority", False),
    ("delta_random_init", "Δ random init", False),
    ("n_seeds", "seeds", False),
    ("leaf_f1", "leaf F1", False),
]


def _cell(value: Any, text: bool, key: str, row: pd.Series) -> str:
    if text:
        shown = html.escape(str(value))
        if key == "model" and flagged(row):
            shown += f' <span class="flag" title="{html.escape(FLAG_TITLE)}">{FLAG}</span>'
        return f'<td class="t">{shown}</td>'
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    digits = 2 if key == "se" else 1
    shown = (
        "—"
        if missing
        else (
            fmt(float(value), digits, signed=key.startswith("delta"))
            if isinstance(value, float)
            else str(value)
        )
    )
    raw = "" if missing else repr(float(value))
    return f'<td data-v="{raw}">{html.escape(shown)}</td>'


def html_table(df: pd.DataFrame, columns: list[tuple[str, str, bool]], table_id: str) -> str:
    head = "".join(
        f'<th data-key="{html.escape(k)}"{" class=t" if t else ""}>{html.escape(h)}</th>'
        for k, h, t in columns
    )
    body = []
    for _, r in df.iterrows():
        cls = ' class="flag"' if flagged(r) else ""
        body.append(f"<tr{cls}>" + "".join(_cell(r[k], t, k, r) for k, _h, t in columns) + "</tr>")
    return (
        f'<table id="{html.escape(table_id)}" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def render_markdown(text: str) -> str:
    """Markdown as HTML (markdown-it-py, raw HTML escaped, no images).  The code's own Markdown holds user
    strings only through ``md_escape``, so they come out as their text, HTML-escaped once."""
    return MARKDOWN.render(text)


def _figure(p: dict, plot_dir: Path, cls: str = "") -> str:
    data = base64.b64encode((plot_dir / p["file"]).read_bytes()).decode()
    caption = html.escape(p["caption"])
    attr = f' class="{cls}" id="{cls}-figure"' if cls else ""
    return (
        f'<figure{attr}><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _provenance_html(prov: dict[str, Any]) -> str:
    items = "".join(
        f"<li><b>{html.escape(label)}</b>: {html.escape(text)}</li>" for label, text in provenance_lines(prov)
    )
    return f'<h2>Provenance</h2>\n<ul class="provenance">{items}</ul>'


def render_html(
    rows: pd.DataFrame,
    head: pd.DataFrame,
    st: dict[str, Any],
    plots: dict[str, dict],
    plot_dir: Path,
    meta: dict[str, Any],
) -> str:
    """The page: legend, notes, headline table, headline figure and its reading, statistics, plots, all
    rows, provenance (``meta``: n_runs, sources, and optionally notes, reading, provenance)."""
    top = plots.get("headline", {})
    headline_figure = _figure(top, plot_dir, "headline") if "file" in top else ""
    figures, skipped = [], []
    for name, p in plots.items():
        if "file" not in p:
            skipped.append(f"<li>{html.escape(name)}: skipped — {html.escape(p['skipped'])}</li>")
        elif name != "headline":
            figures.append(_figure(p, plot_dir))
    notes = f'<div class="notes">{render_markdown(meta["notes"])}</div>' if meta.get("notes") else ""
    reading = (
        f'<p class="reading" id="reading"><b>Reading</b>: {html.escape(meta["reading"])}</p>'
        if meta.get("reading")
        else ""
    )
    provenance = _provenance_html(meta["provenance"]) if meta.get("provenance") else ""
    n_runs, sources = html.escape(str(meta["n_runs"])), html.escape(", ".join(map(str, meta["sources"])))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>taxobench leaderboard</title><link rel="icon" href="data:,"><style>{CSS}</style></head>
<body>
<h1>taxobench leaderboard</h1>
<p>{n_runs} finished runs ({sources}). {html.escape(LEGEND)} {html.escape(SHADING)}</p>
{notes}
<h2>Headline: held-out hypernyms at 100 % ablation (original labels)</h2>
{html_table(head, HEADLINE_COLUMNS, "headline")}
{headline_figure}
{reading}
<h2>Statistics</h2>
<div class="stats">{render_markdown(stats_md(st))}</div>
<h2>Plots</h2>
{"".join(figures)}
<ul>{"".join(skipped)}</ul>
<h2>All results</h2>
<div class="controls"><label>Filter rows: <input id="filter" type="search"></label></div>
{html_table(rows, RESULT_COLUMNS, "results")}
{provenance}
<script>{JS}</script>
</body></html>
"""
