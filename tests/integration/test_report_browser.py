"""report.html in a real browser (headless Chromium): every image loads, the verdict is on screen.

Without a Chromium these tests skip ("chromium not installed"), except under CI (CI set, as CI
services do), where they fail: .ci/run installs one, and a check that did not run is no pass.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from paths import REPO
from results_factory import build

from harness.report.html import render_html

SCRIPT = REPO / "scripts" / "check_report_in_browser.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("check_report_in_browser", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


browser = _load_script()


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require_chromium() -> str:
    """The Chromium the checks will run; skips without one, fails without one under CI."""
    found = browser.find_chromium()
    if found is None:
        if _under_ci():
            pytest.fail(
                "chromium not installed, under CI (CI is set): .ci/run should have installed "
                "Debian's chromium and chromium-driver; see its output, or set CHROMIUM to a "
                "Chromium executable",
                pytrace=False,
            )
        pytest.skip("chromium not installed")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    results, arrays = build(candidates={"good": 0.9, "poor": 0.2},
                            rejected={"poor": ("fp_rate_under_target[sts]", "fp_rate 0.89")})
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(results, arrays), encoding="utf-8")
    return path


def test_every_image_loads_and_the_verdicts_are_on_the_first_screen(report, tmp_path):
    from PIL import Image

    _require_chromium()

    check = browser.check_report(report, tmp_path / "shot.png")

    assert check.ok, check.problems
    assert len(check.images) == 5 and all(image["ok"] for image in check.images)
    assert [v["verdict"] for v in check.verdicts] == ["PROMOTE", "REJECT"]
    assert all(v["visible"] and 0 <= v["top"] < 2000 for v in check.verdicts)
    with Image.open(check.screenshot) as shot:
        assert shot.size == browser.WINDOW


def test_a_broken_image_fails_the_check(report, tmp_path):
    _require_chromium()

    broken = tmp_path / "report.html"
    text = report.read_text(encoding="utf-8")
    broken.write_text(text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1),
                      encoding="utf-8")

    check = browser.check_report(broken, tmp_path / "shot.png")

    assert not check.ok
    assert [p for p in check.problems if "did not load" in p] == [
        "image 0 (ROC curves on sts) did not load"
    ]
    assert sum(image["ok"] for image in check.images) == 4


def test_the_script_prints_the_screenshot_and_ok(report, tmp_path, capsys):
    _require_chromium()

    status = browser.main([str(report.parent), "--screenshot", str(tmp_path / "s.png")])

    out = capsys.readouterr().out
    assert status == 0, out
    assert f"screenshot: {tmp_path / 's.png'}" in out and out.rstrip().endswith("OK")


def test_without_chromium_the_script_fails_saying_so(report, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-browser"))

    status = browser.main([str(report)])

    assert status == 2
    assert "chromium not installed" in capsys.readouterr().err
