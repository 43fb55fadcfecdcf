"""The dry run's report as one self-contained HTML page, with a contact sheet of thumbnails."""

from __future__ import annotations

from html import escape
from typing import Any

from .scan import CHANGE_COLUMNS, ScanReport, change_cells

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em;
         max-width: 32em; overflow-wrap: anywhere; }
th { background: #eee; }
.sheet { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; text-align: center; font-size: 0.75em; }
img.thumbnail { width: 128px; height: 128px; object-fit: contain; background: #000; }
"""
# Marks each thumbnail once the browser has decoded it, so a test can check they all show.
_SCRIPT = """
for (const image of document.querySelectorAll("img.thumbnail")) {
  const mark = () => image.setAttribute("data-loaded", image.naturalWidth > 0 ? "yes" : "no");
  if (image.complete) { mark(); } else { image.addEventListener("load", mark); }
}
"""


def render_html(report: ScanReport, hide_values: bool = False) -> str:
    """The report as HTML: summary, changes, quarantine, skipped files, patients, contact sheet."""
    data = report.as_json(hide_values)
    counts = data["counts"]
    masked = report.masked_series
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>bsti-submit dry run</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>bsti-submit dry run: nothing was written or sent</h1>",
        "<p>This page holds patients' names and IDs: keep it at the trust, readable by you only."
        "</p>",
        _table(
            ["", ""],
            [
                ["made", f"{report.made_at} by {report.made_by}"],
                ["report id", report.run_id],
                ["source", data["source"]],
                ["destination", data["destination"] or "(none given)"],
                ["profile", f"{data['profile']['name']} {data['profile']['version']}"],
                ["profile sha256", data["profile"]["sha256"]],
                ["options", ", ".join(data["profile"]["options"]) or "none"],
                [
                    "instances",
                    f"{counts['instances']} in {counts['studies']} study(ies), "
                    f"{counts['series']} series",
                ],
                ["would send", str(counts["would_send"])],
                ["would quarantine", str(counts["would_quarantine"])],
                ["modalities", ", ".join(f"{k} {v}" for k, v in data["modalities"].items())],
            ],
        ),
        "<h2>Attributes that would change</h2>",
        _table(
            list(CHANGE_COLUMNS),
            [change_cells(r) for r in data["changes"]],
        ),
        "<h2>Held back by the verification gate</h2>",
        _table(
            ["reason", "instances"], [[k, str(v)] for k, v in data["quarantine_reasons"].items()]
        ),
        "<h2>Files skipped or failed</h2>",
        _table(
            ["file", "reason"], [[e["file"], e["reason"]] for e in data["skipped"] + data["failed"]]
        ),
        "<h2>Pseudonyms</h2>",
        _table(
            ["pseudonym", "issuer", "patient ID"],
            [[p["pseudonym"], p["issuer"], p["patient_id"]] for p in data["patients"]],
        ),
        "<h2>Contact sheet: one de-identified image per series</h2>",
        "<div class='sheet'>",
        *(
            _figure(report.series_labels.get(series, "series"), picture, series in masked)
            for series, picture in report.thumbnails.items()
        ),
        f"</div><script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body or '<tr><td>none</td></tr>'}</table>"


def _figure(label: str, picture: str, masked: bool) -> str:
    caption = escape(label) + (" (text masked, outlined)" if masked else "")
    return (
        f"<figure><img class='thumbnail' alt='{escape(label)}' "
        f"src='data:image/png;base64,{picture}'><figcaption>{caption}</figcaption></figure>"
    )
