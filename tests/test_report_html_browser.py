"""The HTML reports in a real browser: headless Chromium (Debian's ``chromium``) via
playwright, using the system's browser (playwright downloads none here).

For each shipped scenario's report, and a diff report: one SVG per plan shown, no
console error, no request beyond the file itself, every plan picture drawn with
a size; a screenshot saved in ``docs/images/`` and checked for non-blank regions.
Skipped, saying why, where Chromium or playwright is absent.  The Mermaid
diagrams of ``check --format markdown`` are parsed and rendered by Mermaid itself
when ``ZTSIM_MERMAID_JS`` names its ``mermaid.min.js`` (``.ci/run`` fetches it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from ztsim.cli.main import main

pytestmark = pytest.mark.slow

CHROMIUM = (
    os.environ.get("ZTSIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
IMAGES = ROOT / "docs" / "images"
SCENARIOS = [
    ("pajemploi", "topologies/pajemploi.yaml", "policies", "assertions/pajemploi.yaml"),
    ("k8s-shop", "topologies/k8s-shop.yaml", "policies/k8s-shop", "assertions/k8s-shop.yaml"),
    ("corporate", "topologies/corporate.yaml", "policies/corporate", "assertions/corporate.yaml"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium: apt-get install chromium (or set ZTSIM_CHROMIUM)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as p:
        # headless=False plus --headless=new: Debian's Chromium has only the new headless
        # mode, in which playwright's own headless flags cannot take screenshots.
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=False,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"],
        )
        yield b
        b.close()


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _open(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    """The page at ``path``, its console errors and the URLs it requested."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    urls: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: urls.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, urls


def _nonblank_regions(png: Path, grid: int = 4) -> int:
    """How many cells of a ``grid`` x ``grid`` split of the image are not one colour."""
    image = pytest.importorskip("PIL.Image", reason="pillow not installed")
    with image.open(png) as im:
        im = im.convert("L")
        w, h = im.size
        count = 0
        for i in range(grid):
            for j in range(grid):
                cell = im.crop(
                    (i * w // grid, j * h // grid, (i + 1) * w // grid, (j + 1) * h // grid)
                )
                lo, hi = cell.getextrema()
                count += hi - lo > 40
        return count


def _check_page(page: Any, errors: list[str], urls: list[str], path: Path, plans: int) -> None:
    assert page.locator("svg.plan-picture").count() == plans
    for box in (page.locator("svg.plan-picture").nth(i).bounding_box() for i in range(plans)):
        assert box is not None and box["width"] > 100 and box["height"] > 40
    # on a laptop's screen every picture is in view whole: none scrolls sideways
    wide = page.eval_on_selector_all(
        "svg.figure",
        "els => els.filter(e => e.parentElement.scrollWidth > e.parentElement.clientWidth)"
        ".map(e => e.getAttribute('aria-label'))",
    )
    assert wide == []
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)), "an id used twice in the page"
    assert errors == []
    assert urls == [path.as_uri()], "the report fetched something besides itself"


@pytest.mark.parametrize(("name", "topo", "pols", "asserts"), SCENARIOS)
def test_report_in_chromium(
    browser: Any, tmp_path: Path, name: str, topo: str, pols: str, asserts: str
) -> None:
    out = tmp_path / f"{name}.html"
    assert main(["report", topo, "-p", pols, "--assert", asserts, "-o", str(out)]) == 0
    page, errors, urls = _open(browser, out)
    rows = page.locator("#matrix tbody tr").count()
    assert rows > 0
    _check_page(page, errors, urls, out, rows)
    assert page.locator("svg.attack-graph").count() == 1
    IMAGES.mkdir(parents=True, exist_ok=True)
    shot = IMAGES / f"report-{name}.png"
    page.screenshot(path=str(shot))  # the top of the page: verdict and matrix
    assert _nonblank_regions(shot) >= 8
    plan = IMAGES / f"report-{name}-plan.png"
    page.evaluate("document.querySelector('nav').style.position = 'static'")  # not over it
    page.locator("section.plan").first.screenshot(path=str(plan))
    assert _nonblank_regions(plan) >= 6
    page.close()


def test_diff_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "diff.html"
    args = ["--base", "policies/segmented.yaml", "--proposed", "policies/zero-trust.yaml"]
    assert main(["report", "topologies/pajemploi.yaml", *args, "-o", str(out)]) == 0
    page, errors, urls = _open(browser, out)
    plans = page.locator("section.plan").count()
    assert plans > 0
    _check_page(page, errors, urls, out, plans)
    shot = IMAGES / "report-diff.png"
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert _nonblank_regions(shot) >= 6
    page.close()


def test_print_layout(browser: Any, tmp_path: Path) -> None:
    """Printed, wide pictures shrink to the page (no picture wider than the page)."""
    out = tmp_path / "r.html"
    assert main(["report", "topologies/pajemploi.yaml", "-p", "policies", "-o", str(out)]) == 0
    page, errors, _ = _open(browser, out)
    page.emulate_media(media="print")
    width = page.evaluate("document.documentElement.clientWidth")
    widths = page.eval_on_selector_all(
        "svg.plan-picture", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert widths and max(widths) <= width
    assert page.locator("nav").is_hidden()
    # A4 landscape (the pictures are wide): its width inside the margins, at 96 dpi,
    # holds the plans x policies matrix whole, nothing cut at the right edge
    page.set_viewport_size({"width": round((297 - 24) / 25.4 * 96), "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
        "document.documentElement.clientWidth"
    )
    pdf = page.pdf(prefer_css_page_size=True)
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert box is not None and float(box[1]) > float(box[2]), "printed in portrait"
    assert errors == []
    page.close()


def test_mermaid_parses_the_markdown_diagrams(browser: Any, tmp_path: Path) -> None:
    """Mermaid itself parses and renders every diagram of the shipped scenarios."""
    script = os.environ.get("ZTSIM_MERMAID_JS")
    if not script or not Path(script).is_file():
        pytest.skip("ZTSIM_MERMAID_JS does not name mermaid.min.js (npm pack mermaid@11)")
    blocks: list[str] = []
    for name, topo, pols, asserts in SCENARIOS:
        md = tmp_path / f"{name}.md"
        main(
            ["check", topo, "-p", pols, "--assert", asserts, "--format", "markdown", "-o", str(md)]
        )
        blocks += re.findall(r"```mermaid\n(.*?)```", md.read_text(encoding="utf-8"), re.S)
    assert blocks
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
