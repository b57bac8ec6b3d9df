"""The report's building blocks: escaped text, numbers, tables, figures as data URIs, and
the evaluations of a data set as results.json holds them."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 90


def e(value: Any) -> str:
    """HTML-escaped text of any value (None as '-')."""
    return "-" if value is None else html.escape(str(value), quote=True)


def mpl_text(text: str) -> str:
    """Text for a matplotlib label: a `$` would start mathtext."""
    return text.replace("$", r"\$")


def num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int | np.integer):
        return str(value)
    return f"{value:.{digits}f}"


def short(fingerprint: str | None) -> str:
    return "-" if not fingerprint else fingerprint[:16]


def subplots(rows: int = 1, columns: int = 1, *, figsize: tuple[float, float], **options: Any
               ) -> tuple[Figure, np.ndarray]:
    """A figure at the report's DPI, laid out while it is drawn (constrained layout), and its
    axes as a 2-D array. Not registered with pyplot: nothing to close, no global state."""
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    return fig, fig.subplots(rows, columns, squeeze=False, **options)


def png(fig: Figure) -> str:
    """The figure as a base64 PNG data URI, drawn once: the Agg canvas lays it out and renders
    it in the same draw (savefig would add a layout-only draw first)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure(uri: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{e(alt)}">{cap}</figure>'


def table_html(
    header: Sequence[str], rows: Iterable[Sequence[Any]], numeric_from: int = 99, css: str = ""
) -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{e(c)}</td>' if i >= numeric_from else f"<td>{e(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    attr = f' class="{css}"' if css else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ---- arrays ---------------------------------------------------------------------------------


def array_of(arrays: dict[str, np.ndarray], key: str, n: int | None = None) -> np.ndarray | None:
    """arrays[key] as a finite-checked 1-D float array, or None if absent, empty or misshapen."""
    value = arrays.get(key)
    if value is None:
        return None
    value = np.asarray(value, dtype=np.float64).ravel()
    if value.size == 0 or (n is not None and value.size != n):
        return None
    return value


def evaluations_on(results: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    """A data set's evaluations: baselines (configured order) first, then candidates."""
    rows = [ev for ev in results.get("evaluations", []) if ev.get("dataset") == dataset]
    order = [b.get("name") for b in results.get("baselines", [])]
    order += [c.get("name") for c in results.get("checkpoints", [])]

    def key(ev: dict[str, Any]) -> tuple[int, int, str]:
        model = ev.get("model", "")
        position = order.index(model) if model in order else len(order)
        return (ev.get("role") != "baseline", position, model)

    return sorted(rows, key=key)


def threshold_of(ev: dict[str, Any]) -> float | None:
    value = (ev.get("threshold") or {}).get("value")
    return None if value is None or not math.isfinite(value) else float(value)


def metric_of(ev: dict[str, Any], name: str) -> float | None:
    return (ev.get("metrics", {}).get(name) or {}).get("value")
