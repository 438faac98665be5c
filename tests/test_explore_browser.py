"""``prover-data explore`` in a real browser: headless Chromium (Debian's package) driven by Playwright.

Each page is loaded from the real server, asserted on as rendered (the tree's nodes and
proof path are drawn, a filter changes the rows, clicking a node shows its state) and
saved as a screenshot under the test's tmp dir; with PROVER_DATA_SCREENSHOT_DOCS=1 the
theorem page's also replaces docs/explore.png, the README's (a test run never edits the
checkout otherwise). No browser is ever downloaded: without
/usr/bin/chromium (``apt-get install -y chromium``) the tests skip, unless
PROVER_DATA_REQUIRE_BROWSER=1 says a browser must be there (CI), when they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.explore_fixtures import explored, proof_path  # noqa: F401 (fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
COLLAPSE_AT = 40  # static/tree.js: larger trees open collapsed to their proof path


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return "no chromium: install Debian's with `apt-get update && apt-get install -y chromium`"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no playwright: pip install -e '.[explore]' (it drives /usr/bin/chromium; no browser download)"
    return None


@pytest.fixture(scope="module")
def page(explored, tmp_path_factory):
    missing = _browser_missing()
    if missing:
        if os.environ.get("PROVER_DATA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PROVER_DATA_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(dir=tmp_path_factory.mktemp("chromium"))
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1500, "height": 950})
        errors: list[str] = []
        tab = context.new_page()
        tab.on("pageerror", lambda e: errors.append(str(e)))
        try:
            yield tab
        finally:
            context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _searches(records) -> Counter:
    return Counter((r["theorem_name"], r["source"]) for r in records)


def test_theorems_page_filters_sorts_and_searches(page, explored, shots):
    page.goto(explored.url)
    rows = page.locator("#theorems tbody tr")
    assert rows.count() == 50
    first = rows.first.locator("td.name a").inner_text()
    page.select_option("select[name=proved]", "yes")  # submits the form on change
    page.wait_for_url("**proved=yes**")
    proved = {r["theorem_name"] for r in explored.records if r["is_proof_complete"]}
    names = rows.locator("td.name a").all_inner_texts()
    assert names and set(names) <= proved and names[0] != first
    assert page.locator("#row-count").inner_text().endswith(f"of {len(proved)} theorems")
    page.click("th a[data-sort=nodes]")
    page.click("th a[data-sort=nodes]")  # the second click sorts down
    page.wait_for_url("**dir=desc**")
    most = max(proved, key=lambda t: (sum(r["theorem_name"] == t for r in explored.records), t))
    assert rows.first.locator("td.name a").inner_text() == most
    page.fill("input[name=q]", "multiset.mul_LE")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=**")
    expected = sorted({r["theorem_name"] for r in explored.records if r["is_proof_complete"]
                       and "multiset.mul_le" in r["theorem_name"].lower()})
    assert sorted(rows.locator("td.name a").all_inner_texts()) == expected
    page.goto(explored.url)
    page.screenshot(path=str(shots / "theorems.png"))


def test_theorem_page_draws_the_tree_and_shows_a_clicked_nodes_state(page, explored, shots):
    # the largest proved search that still opens fully expanded
    sizes = _searches(explored.records)
    proved = {(r["theorem_name"], r["source"]) for r in explored.records if r["is_proof_complete"]}
    name, source = max((k for k in proved if sizes[k] <= COLLAPSE_AT), key=lambda k: (sizes[k], k))
    page.goto(f"{explored.url}theorem?name={name}")
    box = page.locator(f'details.tree-box[data-key="{source}/0"]')
    box.locator("svg.tree-svg").wait_for()
    assert box.locator(".node").count() == sizes[(name, source)]
    path = proof_path(explored.records, name, source)
    drawn = {int(n) for n in box.locator(".node.on-path").evaluate_all("els => els.map(e => e.dataset.id)")}
    assert drawn == path
    assert box.locator(".link.on-path").count() == len(path) - 1
    node = next(r for r in explored.records if r["theorem_name"] == name and r["source"] == source
                and r["label"] == "negative" and r["state_pp"])
    box.locator(f'.node[data-id="{node["state_id"]}"]').click()
    assert page.locator("#node-state").inner_text() == node["state_pp"]
    ebm = node["ebm_score"]
    assert page.locator('#node-fields td[data-field="ebm_score"]').inner_text() == (
        str(int(ebm)) if ebm.is_integer() else f"{ebm:.4f}")
    page.screenshot(path=str(shots / "theorem.png"))
    if os.environ.get("PROVER_DATA_SCREENSHOT_DOCS") == "1":
        shutil.copyfile(shots / "theorem.png", REPO / "docs" / "explore.png")


def test_a_large_tree_opens_collapsed_to_its_proof_path(page, explored, shots):
    sizes = _searches(explored.records)
    proved = {(r["theorem_name"], r["source"]) for r in explored.records if r["is_proof_complete"]}
    name, source = max((k for k in proved if sizes[k] > COLLAPSE_AT), key=lambda k: (sizes[k], k))
    page.goto(f"{explored.url}theorem?name={name}")
    box = page.locator(f'details.tree-box[data-key="{source}/0"]')
    box.locator("svg.tree-svg").wait_for()
    path = proof_path(explored.records, name, source)
    assert box.locator(".node").count() == len(path) == box.locator(".node.on-path").count()
    badge = box.locator(".badge").first
    hidden = int(badge.locator("text").text_content().lstrip("+"))
    badge.click()
    assert box.locator(".node").count() == len(path) + hidden
    page.screenshot(path=str(shots / "theorem_collapsed.png"))


def test_an_sft_pair_and_a_provenance_link_focus_their_node(page, explored):
    name = "Complex.exists_of_135"
    page.goto(f"{explored.url}theorem?name={name}")
    link = page.locator('.sft-table[data-pairing="manifest"] a.focus').last
    source, _, state_id = link.get_attribute("data-focus").split("/")
    link.click()
    node = next(r for r in explored.records if r["theorem_name"] == name and r["source"] == source
                and r["state_id"] == int(state_id))
    assert page.locator(f'details[data-key="{source}/0"] .node.selected').get_attribute("data-id") == state_id
    assert page.locator("#node-state").inner_text() == (node["state_pp"] or "(empty state: the proof is complete)")


def test_sample_and_build_pages_render(page, explored, shots):
    page.goto(f"{explored.url}sample/train/0")
    members = page.locator("article.member")
    assert members.count() == 8 and members.first.get_attribute("data-role") == "positive"
    assert page.locator(".cosine").first.inner_text() == "cos 1.000"
    page.screenshot(path=str(shots / "sample.png"))
    page.locator("article.member tbody a").first.click()  # provenance -> the node on its theorem page
    page.wait_for_selector(".node.selected")
    assert page.locator("#node-body").is_visible()
    page.goto(f"{explored.url}build")
    images = page.locator("#report img")
    assert images.count() >= 2
    assert all(w > 0 for w in images.evaluate_all("els => els.map(e => e.naturalWidth)"))
    assert page.locator('#comparison td[data-category="here_only"]').inner_text() != "0"
    page.screenshot(path=str(shots / "build.png"), full_page=True)
