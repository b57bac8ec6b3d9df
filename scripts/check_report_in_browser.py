"""Open report.html in headless Chromium: screenshot it, check images load and the verdict shows.

    python scripts/check_report_in_browser.py REPORT_DIR_OR_HTML [--screenshot PATH]

Two Chromium runs, each with a fresh profile and no network, sync or component updates:
1. `--screenshot` of the report as it is (1280x2000 window) -> a PNG, checked to be non-blank;
2. `--dump-dom` of a temporary copy with a small probe script appended (the report itself has
   no JavaScript). On `load` the probe records, in an attribute of <html>, each image's
   `complete && naturalWidth > 0` and each verdict banner's text, visibility and position,
   which we read back from the serialized DOM. `--virtual-time-budget` lets the page finish
   loading and the handler run before the DOM is dumped.

Prints the screenshot path and OK or FAIL with the reasons; exit 0 OK, 1 FAIL, 2 no Chromium or
no report. Never reports OK without having run the browser.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 2000)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--hide-scrollbars", "--mute-audio",
)
TIMEOUT_S = 90
ATTRIBUTE = "data-browser-check"
PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {ok: img.complete && img.naturalWidth > 0, alt: img.alt, width: img.naturalWidth};
  });
  var verdicts = Array.prototype.map.call(document.querySelectorAll("[data-verdict]"),
    function (el) {
      var box = el.getBoundingClientRect(), style = getComputedStyle(el);
      return {verdict: el.getAttribute("data-verdict"), text: el.innerText.slice(0, 200),
              visible: box.width > 0 && box.height > 0 && style.visibility !== "hidden"
                       && style.display !== "none" && parseFloat(style.opacity) > 0,
              top: box.top, height: box.height};
    });
  document.documentElement.setAttribute("ATTRIBUTE", JSON.stringify(
    {images: images, verdicts: verdicts, viewport: window.innerHeight}));
});
</script>
""".replace("ATTRIBUTE", ATTRIBUTE)


class NoChromium(RuntimeError):
    """No Chromium executable on this machine."""


@dataclass
class BrowserCheck:
    """What the browser saw."""

    screenshot: Path
    images: list[dict] = field(default_factory=list)
    verdicts: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_chromium() -> str | None:
    """The Chromium executable ($CHROMIUM, else the first of the usual names on PATH)."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)


def _run_chromium(chromium: str, args: list[str], url: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}",
                   f"--window-size={WINDOW[0]},{WINDOW[1]}", *args, url]
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                                check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"chromium exited {result.returncode}: {tail}")
    return result


def _probe_dom(chromium: str, report: Path) -> dict:
    """Load a copy of the report with the probe script; what it recorded."""
    text = report.read_text(encoding="utf-8")
    probed = text.replace("</body>", PROBE + "</body>") if "</body>" in text else text + PROBE
    with tempfile.TemporaryDirectory(prefix="report-probe-") as folder:
        copy = Path(folder) / "report.html"
        copy.write_text(probed, encoding="utf-8")
        result = _run_chromium(chromium, ["--virtual-time-budget=10000", "--dump-dom"],
                               copy.as_uri())
    match = re.search(rf'{ATTRIBUTE}="([^"]*)"', result.stdout)
    if not match:
        raise RuntimeError("the page's load handler never ran (no probe result in the DOM)")
    return json.loads(html.unescape(match.group(1)))


def _blank(png: Path) -> bool:
    """True if the screenshot is (almost) one colour: a page that never painted."""
    try:
        from PIL import Image
    except ImportError:  # pillow comes with matplotlib; without it, skip this one check
        return False
    with Image.open(png) as image:
        extrema = image.convert("L").getextrema()
    return extrema[1] - extrema[0] < 10


def check_report(report: Path, screenshot: Path, chromium: str | None = None) -> BrowserCheck:
    """Screenshot `report` (a report.html) to `screenshot` and check it; NoChromium if none."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise NoChromium("chromium not installed (apt-get install chromium chromium-driver)")
    report = report.resolve()
    screenshot = screenshot.resolve()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    if screenshot.exists():
        screenshot.unlink()
    check = BrowserCheck(screenshot)
    _run_chromium(chromium, [f"--screenshot={screenshot}"], report.as_uri())
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        check.problems.append("chromium wrote no screenshot")
    elif _blank(screenshot):
        check.problems.append("the screenshot is blank: the page did not render")
    seen = _probe_dom(chromium, report)
    check.images, check.verdicts = seen["images"], seen["verdicts"]
    if not check.images:
        check.problems.append("the report has no images")
    for index, image in enumerate(check.images):
        if not image["ok"]:
            check.problems.append(f"image {index} ({image['alt'] or 'no alt text'}) did not load")
    if not check.verdicts:
        check.problems.append("no verdict banner ([data-verdict]) in the page")
    for index, verdict in enumerate(check.verdicts):
        where = f"verdict {verdict['verdict']}"
        if not verdict["visible"]:
            check.problems.append(f"{where} is not visible")
        elif index == 0 and verdict["top"] + verdict["height"] > seen["viewport"]:
            check.problems.append(f"{where} is below the first screen (top {verdict['top']:.0f}px)")
        if verdict["verdict"] not in verdict["text"]:
            check.problems.append(f"{where}: its banner does not show the word")
    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="report.html or the report folder holding it")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="the PNG to write (default: report-screenshot.png beside it)")
    args = parser.parse_args(argv)
    report = args.report / "report.html" if args.report.is_dir() else args.report
    if not report.is_file():
        print(f"FAIL: {report}: no such report.html", file=sys.stderr)
        return 2
    screenshot = args.screenshot or report.with_name("report-screenshot.png")
    try:
        check = check_report(report, screenshot)
    except NoChromium as exc:
        print(f"FAIL: {exc}; the report was not checked", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        print(f"FAIL: the browser check could not run: {exc}", file=sys.stderr)
        return 1
    print(f"screenshot: {check.screenshot}")
    print(f"images: {sum(i['ok'] for i in check.images)}/{len(check.images)} loaded; verdicts: "
          + ", ".join(f"{v['verdict']} at {v['top']:.0f}px" for v in check.verdicts))
    if check.ok:
        print("OK")
        return 0
    print("FAIL:\n" + "\n".join(f"  {p}" for p in check.problems))
    return 1


if __name__ == "__main__":
    sys.exit(main())
