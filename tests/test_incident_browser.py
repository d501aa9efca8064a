"""The incident analysis in a real browser (headless Chromium), as the HTML report is.

``docs/analysis/*.html`` (the shipped scenarios' analyses) open with no console
error and no request beyond the file; each policy's section holds its kill-chain
strip and each studied goal's plan drawn with a size; a screenshot of the
Pajemploi analysis goes to ``docs/images/``.  The Mermaid kill chains of the
Markdown analyses are parsed and rendered by Mermaid itself when
``ZTSIM_MERMAID_JS`` names ``mermaid.min.js`` (as ``.ci/run`` sets it).
Skipped, saying why, where Chromium or playwright is absent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from test_report_html_browser import IMAGES, _nonblank_regions, _open, browser

pytestmark = pytest.mark.slow
__all__ = ["browser"]  # the fixture, shared with the HTML report's browser tests

DOCS = ROOT / "docs" / "analysis"
NAMES = ("pajemploi", "k8s-shop", "corporate")


@pytest.mark.parametrize("name", NAMES)
def test_analysis_in_chromium(browser: Any, name: str) -> None:
    path = DOCS / f"{name}.html"
    page, errors, urls = _open(browser, path)
    sections = page.locator("main > section[id^=policy-]").count()
    assert sections >= 2
    assert page.locator("svg.kill-chain").count() == sections
    plans = page.locator("svg.plan-picture")
    assert plans.count() >= sections
    for i in range(plans.count()):
        box = plans.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 40
    # read on a laptop: no picture scrolls sideways, no kill-chain text leaves its box
    wide = page.eval_on_selector_all(
        "svg.figure",
        "els => els.filter(e => e.parentElement.scrollWidth > e.parentElement.clientWidth)"
        ".map(e => e.getAttribute('aria-label'))",
    )
    assert wide == []
    spill = page.eval_on_selector_all(
        "svg.kill-chain",
        """svgs => svgs.flatMap(svg => {
            const rects = [...svg.querySelectorAll('rect')].map(r => r.getBoundingClientRect());
            return [...svg.querySelectorAll('text')].filter(t => {
                const b = t.getBoundingClientRect();
                const r = rects.find(r => b.left >= r.left && b.left <= r.right
                                          && b.top >= r.top - 1 && b.bottom <= r.bottom + 1);
                return !r || b.right > r.right - 2;
            }).map(t => t.textContent);
        })""",
    )
    assert spill == []
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)), "an id used twice in the page"
    assert errors == []
    assert urls == [path.as_uri()], "the analysis fetched something besides itself"
    if name == "pajemploi":
        IMAGES.mkdir(parents=True, exist_ok=True)
        shot = IMAGES / "analysis-pajemploi.png"
        page.screenshot(path=str(shot))
        assert _nonblank_regions(shot) >= 8
    page.close()


def test_mermaid_parses_the_kill_chains(browser: Any) -> None:
    script = os.environ.get("ZTSIM_MERMAID_JS")
    if not script or not Path(script).is_file():
        pytest.skip("ZTSIM_MERMAID_JS does not name mermaid.min.js (npm pack mermaid@11)")
    blocks: list[str] = []
    for name in NAMES:
        text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
        blocks += re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) >= 6
    page = browser.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=script)
    page.evaluate("mermaid.initialize({startOnLoad: false})")
    render = """async ([t, i]) => {
        try { await mermaid.parse(t); await mermaid.render('m' + i, t); return 'ok'; }
        catch (e) { return String(e.message || e); } }"""
    failed = [(b, r) for i, b in enumerate(blocks) if (r := page.evaluate(render, [b, i])) != "ok"]
    assert failed == []
    page.close()
