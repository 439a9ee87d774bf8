"""The HTML report of a run: each executed notebook as a page, and an index of key numbers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

INDEX_FILE = "index.html"
HTML_DIR = "html"


def key_numbers(record: Mapping, limit: int = 12) -> dict[str, object]:
    """The scalar entries of a notebook's record (one level of dicts flattened), for the index.

    Lists and long strings are left out: the index shows what fits on a line.
    """
    found: dict[str, object] = {}
    for key, value in record.items():
        items = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, item in items:
            if isinstance(item, bool | int | float) or (isinstance(item, str) and len(item) < 60):
                name = key if sub is None else f"{key}.{sub}"
                found[name] = round(item, 4) if isinstance(item, float) else item
    return dict(list(found.items())[:limit])


def write_html_report(out: Path, summary: Sequence[Mapping]) -> Path:
    """Write each executed notebook as standalone HTML and an index page linking them.

    ``out/html/<notebook>.html`` (nbconvert's HTML exporter, figures embedded) and
    ``out/index.html``: one row per notebook of ``summary`` (the entries ``run_notebooks``
    writes to ``notebooks.json``) with its time, figures and :func:`key_numbers` of its record.
    """
    import html as html_text

    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    (out / HTML_DIR).mkdir(exist_ok=True)
    rows = []
    for entry in summary:
        executed = Path(entry["executed"])
        body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
        page = out / HTML_DIR / f"{executed.stem}.html"
        page.write_text(body, encoding="utf-8")
        record_path = out / f"{executed.stem}.json"
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
        numbers = "<br>".join(
            f"{html_text.escape(k)}: {html_text.escape(str(v))}"
            for k, v in key_numbers(record).items()
        )
        rows.append(
            f'<tr><td><a href="{HTML_DIR}/{page.name}">{html_text.escape(executed.stem)}</a></td>'
            f"<td>{entry['seconds']}</td><td>{entry['figures']}</td><td>{numbers}</td></tr>"
        )
    index = out / INDEX_FILE
    index.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>imrkit notebooks</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px 8px;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>\n"
        f"<h1>imrkit notebooks</h1><p>Executed into {html_text.escape(str(out))}.</p>\n"
        "<table><tr><th>notebook</th><th>seconds</th><th>figures</th><th>key numbers</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n",
        encoding="utf-8",
    )
    return index
