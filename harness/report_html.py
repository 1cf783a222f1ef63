"""Static, self-contained leaderboard.html: inline CSS/JS, plots as data URIs, no network requests.

Tables sort on a header click; ``#sort=<column>:<asc|desc>`` in the URL sorts the results table on load.
When the script has run, ``<body data-ready="1">`` is set (the browser test reads it).
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report_md import FLAG, LEGEND, fmt, md_unescape, stats_md

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
td.t,th.t{text-align:left}
th{background:#f2f2f2;cursor:pointer;user-select:none;position:sticky;top:0}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
tr.flag td{background:#fff4e0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
figure{margin:1em 0}figcaption{font-size:12px;color:#555}
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


def _cell(value: Any, text: bool, key: str) -> str:
    if text:
        shown = html.escape(str(value))
        if key == "leaf_precondition" and value == "not met":
            shown = f"{FLAG} not met"
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
        cls = ' class="flag"' if r.get("leaf_precondition") == "not met" else ""
        body.append(f"<tr{cls}>" + "".join(_cell(r[k], t, k) for k, _h, t in columns) + "</tr>")
    return (
        f'<table id="{html.escape(table_id)}" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _inline(md: str) -> str:
    """One piece of the code's Markdown as HTML: ``**bold**`` kept, everything else escaped text.

    User strings in it went through ``md_escape`` (so they hold no ``**``); their Markdown escapes are
    undone before ``html.escape``, so the page shows the original text once escaped.
    """
    parts = md.split("**")
    return "".join(
        f"<b>{html.escape(md_unescape(p))}</b>" if i % 2 else html.escape(md_unescape(p))
        for i, p in enumerate(parts)
    )


def _md_inline(text: str) -> str:
    """The statistics Markdown as simple HTML paragraphs (bold, lists and tables kept readable)."""
    out = []
    for block in text.split("\n\n"):
        if block.startswith("|"):
            # table(): "| a | b |" rows; a "|" inside a cell is escaped ("\\|"), so " | " only separates
            lines = [ln.strip()[2:-2].split(" | ") for ln in block.splitlines() if not ln.startswith("|---")]
            head = "".join(f"<th>{_inline(c.strip())}</th>" for c in lines[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{_inline(c.strip())}</td>" for c in ln) + "</tr>" for ln in lines[1:]
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif block.lstrip().startswith("- "):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in block.splitlines())
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(block)}</p>")
    return "\n".join(out)


def render_html(
    rows: pd.DataFrame,
    head: pd.DataFrame,
    st: dict[str, Any],
    plots: dict[str, dict],
    plot_dir: Path,
    meta: dict[str, Any],
) -> str:
    figures = []
    for name, p in plots.items():
        if "file" not in p:
            figures.append(f"<li>{html.escape(name)}: skipped — {html.escape(p['skipped'])}</li>")
            continue
        data = base64.b64encode((plot_dir / p["file"]).read_bytes()).decode()
        figures.append(
            f'<figure><img alt="{html.escape(p["caption"])}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(p['caption'])}</figcaption></figure>"
        )
    n_runs, sources = html.escape(str(meta["n_runs"])), html.escape(", ".join(map(str, meta["sources"])))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>taxobench leaderboard</title><link rel="icon" href="data:,"><style>{CSS}</style></head>
<body>
<h1>taxobench leaderboard</h1>
<p>{n_runs} finished runs ({sources}). {html.escape(LEGEND)}</p>
{_md_inline(meta["notes"]) if meta.get("notes") else ""}
<h2>Headline: held-out hypernyms at 100 % ablation (original labels)</h2>
{html_table(head, HEADLINE_COLUMNS, "headline")}
<h2>Statistics</h2>
{_md_inline(stats_md(st))}
<h2>Plots</h2>
{"".join(f for f in figures if f.startswith("<figure"))}
<ul>{"".join(f for f in figures if f.startswith("<li"))}</ul>
<h2>All results</h2>
<div class="controls"><label>Filter rows: <input id="filter" type="search"></label></div>
{html_table(rows, RESULT_COLUMNS, "results")}
<script>{JS}</script>
</body></html>
"""
