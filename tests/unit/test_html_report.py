"""Unit tests for harness.report.html: one self-contained, escaped page, robust to missing data."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import numpy as np
import pytest
from results_factory import GRADED, LABELS, build

from harness.report.folder import HTML, write_report
from harness.report.html import render_html
from harness.report.leaderboard import leaderboard_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """The tags, image sources and text of a page, and whether it parsed without leftovers."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []
        self.tags: list[str] = []
        self.chunks: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def decoded_pngs(page: Page) -> list[bytes]:
    pngs = []
    for image in page.images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,"), src[:60]
        pngs.append(base64.b64decode(src.split(",", 1)[1], validate=True))
    return pngs


@pytest.fixture(scope="module")
def full() -> tuple[dict, dict, str]:
    results, arrays = build(candidates={"good": 0.9, "poor": 0.2},
                            rejected={"poor": ("fp_rate_under_target[sts]", "fp_rate 0.89 misses")})
    return results, arrays, render_html(results, arrays)


def test_every_figure_is_an_embedded_png(full):
    _, _, html = full
    page = Page(html)

    pngs = decoded_pngs(page)

    # ROC, score distributions, score vs gold on the one data set; a probe plot per candidate
    assert len(pngs) == 3 + 2
    assert all(png.startswith(PNG_MAGIC) for png in pngs)
    assert all(image["alt"] for image in page.images)


def test_the_page_is_self_contained(full):
    _, _, html = full

    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert "url(" not in html
    assert len(html.encode()) < 600_000


def test_verdicts_come_first_with_the_failing_check(full):
    _, _, html = full
    page = Page(html)

    first_section = html.index("<h2")
    assert html.index('data-verdict="PROMOTE"') < first_section
    assert html.index('data-verdict="REJECT"') < first_section
    assert "REJECT poor first failing check: fp_rate_under_target[sts] (failed)" in page.text
    assert "fp_rate 0.89 misses" in page.text


def test_the_page_shows_thresholds_confusion_leaderboard_and_environment(full):
    results, _, html = full
    text = Page(html).text
    poor = next(e for e in results["evaluations"] if e["model"] == "poor")
    (tn, fp), (fn, tp) = poor["confusion_matrix"]

    assert f"poor at threshold {poor['threshold']['value']:.4f}" in text
    assert f"TN {tn} (" in text and f"FP {fp} (" in text and f"TP {tp} (" in text
    header, body = leaderboard_table(results, "sts")
    for row in body:  # the leaderboard's own rows, cell for cell
        assert " ".join(row) in text
    assert " ".join(header) in text
    assert results["config"]["fingerprint"] in text
    assert results["datasets"][0]["fingerprint"] in text
    assert "torch 2.13.0" in text


def test_text_is_escaped():
    hostile = "<script>alert('x')</script>&$\\notmath$"  # `$..$` is mathtext to matplotlib
    results, arrays = build(candidates={hostile: 0.9},
                            rejected={hostile: ("beats_baseline[sts]", "<b>bad</b> & worse")})
    results["not_applicable"] = [{"check": "<i>c</i>", "checkpoint": hostile, "reason": "a<b"}]
    results["missing_reference_datasets"] = {"ref<1>": "cannot read <file>"}

    html = render_html(results, arrays)

    assert "<script>" not in html and "<b>bad</b>" not in html and "<i>c</i>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;$\\notmath$" in html
    assert "&lt;b&gt;bad&lt;/b&gt; &amp; worse" in html
    text = Page(html).text
    assert "cannot read <file>" in text and "ref<1>" in text and "a<b" in text
    assert len(decoded_pngs(Page(html))) == 4  # the name in plot titles broke none


def test_works_without_any_arrays():
    results, _ = build(candidates={"good": 0.9})

    html = render_html(results, {})

    page = Page(html)
    assert page.images == []
    assert "no per-pair scores for good: left out of the plots" in page.text
    assert "good: no probe distances" in page.text
    assert "TN " in page.text  # confusion matrices come from results.json, not the arrays


def test_graded_only_and_labels_only_data_sets():
    results, arrays = build(candidates={"good": 0.9},
                            datasets={"graded": GRADED, "pairs": LABELS})

    html = render_html(results, arrays)

    page = Page(html)
    alts = [image["alt"] for image in page.images]
    assert alts.count("cosine score against gold on graded") == 1
    assert "ROC curves on graded" not in alts
    assert "ROC curves on pairs" in alts and "cosine score against gold on pairs" not in alts
    assert "no binary labels: no ROC curves, score distributions or confusion matrices" in page.text


def test_a_full_model_without_probe_distances_and_a_misshapen_array():
    results, arrays = build(candidates={"full": 0.9})
    results["checkpoints"][0]["kind"] = "full_model"
    del arrays["probe_distance|full"]
    arrays["scores|full|sts"] = np.zeros(3)  # not one per pair

    html = render_html(results, arrays)

    text = Page(html).text
    assert "full: no probe distances (full_model)" in text
    assert "no per-pair scores for full" in text
    assert len(Page(html).images) == 3  # the baseline's plots remain


def test_no_figure_is_left_open(full):
    results, arrays, _ = full
    before = plt.get_fignums()

    render_html(results, arrays)

    assert plt.get_fignums() == before


def test_no_checkpoint_and_an_unreadable_data_set():
    results, arrays = build()
    results["checkpoints"] = []
    results["datasets"].append({"name": "broken", "role": "gate", "path": "/x", "status":
                                "unreadable", "error": "/x: not JSON\n  fix: repair it"})

    text = Page(render_html(results, arrays)).text

    assert "NO VERDICT no checkpoint was gated" in text
    assert "data set broken (gate) could not be read: /x: not JSON" in text


def test_write_report_always_writes_the_html(tmp_path):
    results, arrays = build()

    folder = write_report(results, arrays, tmp_path, when=datetime(2026, 1, 1, tzinfo=UTC))

    html = (folder / HTML).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert json.loads((folder / "results.json").read_text())["checkpoints"]
    assert (tmp_path / "latest" / HTML).is_file()
