"""Load the dashboard in headless Chromium (no network, no extra Python packages).

The page records JavaScript errors in ``<html data-errors>`` and counts rendered figures in
``data-figures-rendered``; ``--dump-dom`` returns the DOM after the scripts ran, ``--screenshot``
a PNG read with the small reader in ``pngtools``.  Skipped when no Chromium binary is found
(Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from causalmmm_jax.report import build_dashboard

from pngtools import read_png
from report_helpers import write_analysis_files

N_FIGURES = 17  # every panel (the identifiability table included), with the curves / optimize files present


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


CHROMIUM = _find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")


def chromium(page: Path, tmp: Path, *extra: str, timeout: int = 120) -> str:
    """Run headless Chromium on ``page`` offline; returns stdout."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
           f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=10000", *extra,
           page.resolve().as_uri()]
    env = {**os.environ, "HOME": str(tmp)}  # chromium writes caches under $HOME
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def html_attrs(dom: str) -> dict[str, str]:
    tag = re.search(r"<html([^>]*)>", dom)
    assert tag, dom[:500]
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag.group(1))}


@pytest.fixture(scope="module")
def page(fitted_run, tmp_path_factory) -> Path:
    result, run_dir = fitted_run
    dst = tmp_path_factory.mktemp("browser") / "run"
    shutil.copytree(run_dir, dst)
    write_analysis_files(dst, result.panel.channels, result.split.n_train)
    return build_dashboard(dst)


def test_every_figure_renders_without_errors(page, tmp_path):
    dom = chromium(page, tmp_path, "--dump-dom")
    attrs = html_attrs(dom)
    assert json.loads(attrs["data-errors"]) == []
    assert attrs["data-figures-expected"] == str(N_FIGURES)
    assert attrs["data-figures-rendered"] == str(N_FIGURES)
    assert attrs.get("data-ready") == "1"
    plots = re.findall(r'<div id="fig-([\w-]+)" class="[^"]*\bjs-plotly-plot\b[^"]*"', dom)
    assert len(plots) == N_FIGURES
    assert len(re.findall(r'class="main-svg"', dom)) >= N_FIGURES  # each plot drew an SVG


def test_region_selector_switches_series(page, tmp_path):
    """Apply the dropdown's second entry (the first region) the way a click does."""
    script = """<script>(function(){var t=setInterval(function(){
      if(document.documentElement.getAttribute('data-ready')!=='1')return; clearInterval(t);
      var gd=document.getElementById('fig-fit'), b=gd.layout.updatemenus[0].buttons[1];
      Plotly.update(gd,b.args[0],b.args[1]).then(function(){
        document.documentElement.setAttribute('data-switched', gd.layout.title.text+'|'+gd.data[0].y.length);});
    },50);})();</script>"""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    attrs = html_attrs(chromium(probe, tmp_path, "--dump-dom"))
    assert json.loads(attrs["data-errors"]) == []
    title, n = attrs["data-switched"].split("|")
    assert title.startswith("Actual vs predicted: Region") and int(n) == 70


def test_error_collector_catches_script_errors(page, tmp_path):
    """The harness itself: an error thrown on the page shows up in data-errors."""
    bad = tmp_path / "bad.html"
    bad.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", "<script>throw new Error('boom-for-test');</script></body>"), encoding="utf-8")
    errors = json.loads(html_attrs(chromium(bad, tmp_path, "--dump-dom"))["data-errors"])
    assert any("boom-for-test" in e for e in errors)


def test_screenshot_is_not_blank(page, tmp_path):
    png = tmp_path / "shot.png"
    chromium(page, tmp_path, f"--screenshot={png}", "--window-size=1400,3000")
    img = read_png(png)
    assert img.shape[:2] == (3000, 1400)
    rgb = img[..., :3].reshape(-1, 3)
    colours = np.unique(rgb[::5], axis=0)
    assert len(colours) > 300, f"only {len(colours)} distinct colours"
    background = np.all(rgb == rgb[-1], axis=1).mean()  # the page background at the bottom right
    assert background < 0.8
