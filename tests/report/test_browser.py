"""The report in a real browser: headless Chromium draws every plot, logs no error, and the
screenshot shows the plots.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them where missing)
through selenium. The screenshot is kept as a test artifact in ``$MODELCOLLAPSE_TEST_ARTIFACTS``
(default: the test's temporary folder). Skipped only when no Chromium binary exists.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from modelcollapse.measure.files import measure_files
from modelcollapse.report import build_report, read_inputs, write_measure_report

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
     if p and Path(p).is_file()),
    None,
)  # fmt: skip
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium binary (install Debian's chromium and chromium-driver; .ci/run does)",
    ),
]

# Per plot div: whether plotly drew an SVG with a size and at least one trace with a real path.
PLOT_CHECK = """
return Array.from(document.querySelectorAll('.mc-plot')).map(function (div) {
  var svg = div.querySelector('svg.main-svg');
  var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  var paths = Array.from(div.querySelectorAll(
    '.scatterlayer path.js-line, .scatterlayer path.point, .barlayer path, .errorbars path'));
  var drawn = paths.filter(function (p) { return (p.getAttribute('d') || '').length > 3; });
  return {id: div.id, width: box.width, height: box.height,
          traces: div.querySelectorAll('.trace').length, paths: drawn.length};
});
"""

# Decode the PNG in the page (data: URLs do not taint a canvas) and sample its pixels.
PIXEL_STATS = """
var done = arguments[arguments.length - 1];
var img = new Image();
img.onload = function () {
  var c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  var ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
  var d = ctx.getImageData(0, 0, c.width, c.height).data;
  var colours = new Set(), notWhite = 0, n = 0;
  for (var i = 0; i < d.length; i += 4 * 7) {
    colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]); n++;
    if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) notWhite++;
  }
  done({width: img.width, height: img.height, colours: colours.size, notWhite: notWhite / n});
};
img.onerror = function () { done({error: 'the PNG did not decode'}); };
img.src = 'data:image/png;base64,' + arguments[0];
"""


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MODELCOLLAPSE_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) missing")
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMEDRIVER).is_file(), (
        f"expected chromedriver (Debian's chromium-driver) next to {CHROMIUM}, got none"
    )
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--hide-scrollbars"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def demo_style_report(gauss_runs, text_run, tmp_path_factory) -> Path:
    """Like the demo's report: Gaussian runs under two policies and a text run, in one folder."""
    root = tmp_path_factory.mktemp("demo_style")
    for run in (gauss_runs / "g-replace", gauss_runs / "g-accumulate", text_run):
        shutil.copytree(run, root / run.name)
    return build_report(root, root / "report.html")


@pytest.fixture(scope="module")
def measure_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("measure_report")
    rng = np.random.default_rng(0)
    np.save(root / "ref.npy", rng.normal(size=(200, 3)))
    np.save(root / "cand.npy", 0.5 * rng.normal(size=(200, 3)))
    result = measure_files(
        root / "ref.npy", root / "cand.npy", kind="numeric", rng=0, n_boot=20, n_boot_expensive=3
    )
    inputs = read_inputs(root / "ref.npy", root / "cand.npy", kind="numeric", seed=0)
    return write_measure_report(result, root / "measure.html", inputs=inputs)


def _open(driver, path: Path) -> int:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.set_window_size(1400, 1000)
    driver.get(path.resolve().as_uri())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = driver.execute_script("return document.body.getAttribute('data-plots-ready')")
        if ready is not None:
            return int(ready)
        time.sleep(0.2)
    pytest.fail(f"{path}: the plots were not drawn within 60 s")


@pytest.mark.parametrize("which", ["demo_style_report", "measure_report"])
def test_report_renders_in_chromium(request, browser, which, tmp_path):
    path: Path = request.getfixturevalue(which)
    ready = _open(browser, path)
    assert browser.execute_script("return document.body.getAttribute('data-plots-failed')") is None

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors

    plots = browser.execute_script(PLOT_CHECK)
    html = path.read_text(encoding="utf-8")
    specs = json.loads(html.split('id="mc-figures">')[1].split("</script>")[0])
    assert len(plots) == ready == len(specs) >= (7 if which == "demo_style_report" else 3)
    empty = [
        p for p in plots if not (p["width"] > 0 and p["height"] > 0 and p["traces"] and p["paths"])
    ]
    assert empty == [], empty

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(int(height), 12000))
    time.sleep(0.5)  # let the responsive plots settle at the new size
    png = browser.get_screenshot_as_png()
    shot = _artifacts(tmp_path) / f"report-{which.removesuffix('_report')}.png"
    shot.write_bytes(png)

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, h = struct.unpack(">II", png[16:24])  # IHDR
    assert width >= 1000 and h >= 1000
    stats = browser.execute_async_script(PIXEL_STATS, base64.b64encode(png).decode("ascii"))
    assert "error" not in stats, stats
    # Plots in several colours over a light page: many distinct colours, neither blank nor flooded.
    assert stats["colours"] >= 50, stats
    assert 0.02 < stats["notWhite"] < 0.98, stats
