"""``prover-data explore`` over HTTP: every page, its filters, sorting and search, and what it refuses.

A real server (``prover-data explore demo`` in a subprocess, against a real demo build
and an earlier build of two of its files) answers real HTTP requests; every figure a
page shows is checked against one computed here from the bundled parquet files and
the build's outputs with pyarrow and plain Python.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pyarrow.parquet as pq
import pytest

from prover_data.explore.pages import TheoremQuery
from prover_data.identity import split_bucket
from tests.conftest import SAMPLE, run_cli
from tests.explore_fixtures import (EARLY_FILES, NO_VECTOR_SAMPLE, eval_set_names, explored,  # noqa: F401 (fixture)
                                    proof_path, start_server, stop_server)


class _Tables(HTMLParser):
    """The text of each cell of each row of the tables with an id, and every link's href."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def raw_status(url: str, path: str) -> int:
    """The status of GET ``path`` sent exactly as written (no client-side normalization)."""
    parts = urlsplit(url)
    con = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        con.putrequest("GET", path, skip_accept_encoding=True)
        con.endheaders()
        return con.getresponse().status
    finally:
        con.close()


def theorem_html(explored, **params) -> str:
    status, html = get(explored.url + ("?" + urlencode(params) if params else ""))
    assert status == 200, html
    return html


def theorem_rows(explored, **params) -> tuple[str, list[list[str]]]:
    html = theorem_html(explored, **params)
    tables = _Tables()
    tables.feed(html)
    count = unescape(re.search(r'<p class="count" id="row-count">\s*(.*?)\s*</p>', html, re.S).group(1))
    return " ".join(count.split()), tables.tables["theorems"][1:]


def hidden_note(html: str) -> tuple[str, str] | None:
    """The note under the count that says how many eval-only theorems are not listed, and its link."""
    found = re.search(r'<p class="count" id="hidden-count">\s*(.*?)<a href="([^"]*)">show</a>', html, re.S)
    return (" ".join(found.group(1).split()), unescape(found.group(2))) if found else None


def names(rows) -> list[str]:
    return [r[0].split(" ∀")[0].split(" ")[0] for r in rows]


# ----------------------------------------------------------------------------- theorems page


def test_theorems_page_opens_on_the_searched_theorems_most_nodes_first(explored):
    nodes = Counter(r["theorem_name"] for r in explored.records)
    evals = eval_set_names(explored.build)
    assert evals and not evals & nodes.keys()  # eval sets are disjoint from what was searched
    order = sorted(nodes, key=lambda t: (-nodes[t], t))
    html = theorem_html(explored)
    count, rows = theorem_rows(explored)
    assert count == f"1–50 of {len(nodes)} theorems"
    assert names(rows) == order[:50]
    assert hidden_note(html)[0] == f"{len(evals)} eval-only theorems (never searched) not listed:"
    # the pager's link keeps the view: page 2 of the same order
    next_link = unescape(re.search(r'<a href="([^"]*)" rel="next">', html).group(1))
    status, page2 = get(explored.url + next_link)
    assert status == 200
    tables = _Tables()
    tables.feed(page2)
    assert names(tables.tables["theorems"][1:]) == order[50:100]
    last = -(-len(nodes) // 50)
    assert names(theorem_rows(explored, page=last)[1]) == order[(last - 1) * 50:]


def test_eval_only_theorems_are_listed_when_asked_for(explored):
    nodes = Counter(r["theorem_name"] for r in explored.records)
    evals = eval_set_names(explored.build)
    everything = sorted(nodes.keys() | evals)
    _, link = hidden_note(theorem_html(explored))
    assert "unsearched=1" in link
    status, html = get(explored.url + link)
    assert status == 200 and hidden_note(html) is None
    count, rows = theorem_rows(explored, unsearched=1, sort="name")
    assert count == f"1–50 of {len(everything)} theorems" and names(rows) == everything[:50]
    # last in the default order: they have no nodes
    order = sorted(everything, key=lambda t: (-nodes[t], t))
    assert set(order[-len(evals):]) == evals
    last = -(-len(everything) // 50)
    assert names(theorem_rows(explored, unsearched=1, page=last)[1]) == order[(last - 1) * 50:]
    # a search that matches only eval-only theorems says so and offers them
    name = sorted(evals)[0]
    assert theorem_rows(explored, q=name)[0] == "No theorem matches."
    assert hidden_note(theorem_html(explored, q=name))[0].startswith("1 eval-only theorem ")
    assert names(theorem_rows(explored, q=name, unsearched=1)[1]) == [name]


def test_a_theorems_row_shows_its_figures(explored):
    name = "Complex.exists_of_135"
    mine = [r for r in explored.records if r["theorem_name"] == name]
    sft = [p for s in ("sft_train", "sft_val") for p in pq.read_table(explored.build / f"{s}.parquet").to_pylist()
           if p["theorem_name"] == name and p["source"] != "base"]
    samples = [s for s in ("contrastive_train", "contrastive_val")
               for row in pq.read_table(explored.build / f"{s}.parquet").to_pylist() if row["theorem_name"] == name]
    split = "val" if split_bucket(42, name) < 0.1 else "train"
    _, rows = theorem_rows(explored, q=name)
    assert len(rows) == 1
    row = rows[0]
    assert row[1:10] == [split, "✓" if any(r["is_proof_complete"] for r in mine) else "·",
                         str(len({r["source"] for r in mine})), str(len({r["source"] for r in mine})),
                         f"{len(mine):,}", str(sum(r["label"] == "positive" for r in mine)),
                         str(sum(r["label"] == "negative" for r in mine)), str(len(sft)), str(len(samples))]


@pytest.mark.parametrize("query", [TheoremQuery(), TheoremQuery(sort="name", descending=False),
                                   TheoremQuery(sort="nodes", descending=False, page=3),
                                   TheoremQuery(q="x", list="eval:a", unsearched=True, sort="samples")])
def test_a_link_means_the_view_it_was_made_from(query):
    assert TheoremQuery.parse(dict(parse_qsl(query.link()[1:]))) == query
    assert TheoremQuery.parse({}) == TheoremQuery(sort="nodes", descending=True)  # the first page
    assert TheoremQuery.parse({"sort": "nodes"}).descending is False  # a column alone sorts up


@pytest.mark.parametrize("column, key", [("nodes", lambda c: c["nodes"]), ("negatives", lambda c: c["negatives"])])
def test_sorting_by_a_column_both_ways(explored, column, key):
    per = {}
    for r in explored.records:
        c = per.setdefault(r["theorem_name"], Counter())
        c["nodes"] += 1
        c["negatives"] += r["label"] == "negative"
    down = sorted(per, key=lambda t: (-key(per[t]), t))
    up = sorted(per, key=lambda t: (key(per[t]), t))
    assert names(theorem_rows(explored, sort=column, dir="desc")[1]) == down[:50]
    assert names(theorem_rows(explored, sort=column)[1]) == up[:50]


def test_filters_select_the_matching_theorems(explored):
    proved = {r["theorem_name"] for r in explored.records if r["is_proof_complete"]}
    count, rows = theorem_rows(explored, proved="yes")
    assert count == f"1–{min(50, len(proved))} of {len(proved)} theorems"
    assert set(names(rows)) <= proved and all(r[2] == "✓" for r in rows)

    val = {r["theorem_name"] for r in explored.records if split_bucket(42, r["theorem_name"]) < 0.1}
    count, rows = theorem_rows(explored, split="val")
    assert count.endswith(f"of {len(val)} theorems") and set(names(rows)) == val

    in_file = {r["theorem_name"] for r in explored.records if r["source"] == "iter_2_search"}
    assert set(names(theorem_rows(explored, file="iter_2_search")[1])) == in_file

    both = in_file & proved
    assert set(names(theorem_rows(explored, file="iter_2_search", proved="yes")[1])) == both

    evals = eval_set_names(explored.build)
    count, rows = theorem_rows(explored, list="eval:eval_clean_20")
    assert set(names(rows)) == evals and all(r[5] == "0" for r in rows)
    assert set(names(theorem_rows(explored, split="none")[1])) == evals


def test_search_box_matches_names_and_statements_case_blind(explored):
    statements = {t["name"]: t["statement"] for t in json.loads((SAMPLE / "theorem_index.json").read_text())["theorems"]}
    theorems = {r["theorem_name"] for r in explored.records} | eval_set_names(explored.build)
    needle = "Nat.Prime p"
    expected = {t for t in theorems if needle.lower() in (t + "\n" + statements.get(t, "")).lower()}
    count, rows = theorem_rows(explored, q="nat.PRIME P", sort="nodes", dir="desc", unsearched=1)
    assert count.endswith(f"of {len(expected)} theorems") and expected
    assert set(names(rows)) <= expected
    assert names(theorem_rows(explored, q="MULTISET.MUL_LE", sort="name", unsearched=1)[1]) == sorted(
        t for t in theorems if "multiset.mul_le" in t.lower())
    assert theorem_rows(explored, q="no theorem is called this")[0] == "No theorem matches."


@pytest.mark.parametrize("query", ["page=0", "page=x", "sort=state_pp", "dir=up", "split=test", "proved=maybe",
                                   "unsearched=yes"])
def test_bad_parameters_answer_400_naming_them(explored, query):
    status, html = get(f"{explored.url}?{query}")
    assert status == 400
    assert query.split("=")[0] + ":" in unescape(html)


# ----------------------------------------------------------------------------- theorem page


def _trees(html: str) -> dict:
    return json.loads(unescape(re.search(r'<script id="trees-data" type="application/json">(.*?)</script>',
                                         html, re.S).group(1)))


def test_theorem_page_carries_each_search_tree_with_its_proof_path(explored):
    name = "lean_workbook_plus_27306"
    status, html = get(f"{explored.url}theorem?name={quote(name)}")
    assert status == 200
    data = _trees(html)
    mine = [r for r in explored.records if r["theorem_name"] == name]
    assert {t["key"] for t in data["trees"]} == {f"{s}/0" for s in {r["source"] for r in mine}}
    for tree in data["trees"]:
        rows = {r["state_id"]: r for r in mine if r["source"] == tree["source"]}
        assert {n["id"] for n in tree["nodes"]} == set(rows)
        path = proof_path(explored.records, name, tree["source"])
        assert path and {n["id"] for n in tree["nodes"] if n["path"]} == path
        for n in tree["nodes"]:
            r = rows[n["id"]]
            assert (n["parent"], n["label"], n["tactic"], n["state"], n["depth"], n["remaining"], n["ebm"],
                    n["complete"]) == (r["parent_state_id"], r["label"], r["tactic_applied"], r["state_pp"],
                                       r["depth_from_root"], r["remaining_depth"], r["ebm_score"],
                                       r["is_proof_complete"])


def test_theorem_page_shows_the_sft_pairs_of_both_pairings(explored):
    name = "Complex.exists_of_135"
    status, html = get(f"{explored.url}theorem?name={quote(name)}")
    assert status == 200
    built = sorted((p["state_pp"], p["tactic"]) for s in ("sft_train", "sft_val")
                   for p in pq.read_table(explored.build / f"{s}.parquet").to_pylist()
                   if p["theorem_name"] == name and p["source"] != "base")
    tables = re.findall(r'<table class="grid small sft-table" data-pairing="(\w+)">(.*?)</table>', html, re.S)
    pairs = {k: re.findall(r'data-focus="([^"]+)".*?<code title="([^"]*)">.*?</code></td>\s*<td><code>(.*?)</code></td>'
                           r'\s*<td>(\w+)</td>', body, re.S) for k, body in tables}
    usable = sorted((unescape(state), unescape(tactic)) for _, state, tactic, status in pairs["manifest"]
                    if status == "usable")
    assert usable == built  # what the page calls usable is exactly what the build wrote
    nodes = {(r["source"], r["state_id"]): r for r in explored.records if r["theorem_name"] == name}
    assert pairs["burnqed_compat"]
    for focus, state, _, _ in pairs["burnqed_compat"]:  # BurnQED pairs a record's own state
        source, search, state_id = focus.split("/")
        assert unescape(state) == nodes[(source, int(state_id))]["state_pp"].strip()


def test_theorem_page_lists_its_samples(explored):
    name = "Complex.exists_of_135"
    _, html = get(f"{explored.url}theorem?name={quote(name)}")
    expected = {f"/sample/{split}/{row['sample_id']}" for split in ("train", "val")
                for row in pq.read_table(explored.build / f"contrastive_{split}.parquet").to_pylist()
                if row["theorem_name"] == name}
    assert expected and set(re.findall(r'href="(/sample/\w+/\d+)"', html)) == expected


def test_several_searches_of_a_theorem_in_one_file_are_separate_trees(tmp_path):
    from tests.test_repeated_searches import NODES, SPLIT
    from tests.test_views import make_root

    manifest = make_root(tmp_path / "root", {"a": NODES})
    manifest.write_text(manifest.read_text().replace("[sources]\n", SPLIT))
    run_cli("build-manifest", str(manifest), "--build-dir", str(tmp_path / "build"), "--json", check=True)
    proc, url = start_server(str(manifest), "--build-dir", str(tmp_path / "build"))
    try:
        status, html = get(f"{url}theorem?name=T1")
    finally:
        stop_server(proc)
    assert status == 200
    trees = {t["key"]: {n["id"]: (n["parent"], n["state"], n["path"]) for n in t["nodes"]}
             for t in _trees(html)["trees"]}
    assert trees == {
        "a/0": {0: (None, "⊢ A", True), 1: (0, "⊢ B", True), 2: (0, "⊢ N", False), 3: (1, "", True)},
        "a/1": {0: (None, "⊢ A", True), 1: (0, "⊢ C", True), 2: (1, "⊢ M", False), 3: (1, "", True)},
    }
    manifest_pairs = re.search(r'data-pairing="manifest">(.*?)</table>', html, re.S).group(1)
    focus = dict(re.findall(r'data-focus="(a/\d/3)".*?<code title="([^"]*)">', manifest_pairs, re.S))
    assert focus == {"a/0/3": "⊢ B", "a/1/3": "⊢ C"}  # each completing step paired with its own search's parent


def test_theorem_page_refuses_unknown_or_missing_names(explored):
    status, html = get(f"{explored.url}theorem?name={quote('no such & theorem')}")
    assert status == 404 and "no such &amp; theorem" in html
    assert get(f"{explored.url}theorem")[0] == 400


# ----------------------------------------------------------------------------- sample page


def test_sample_page_shows_the_positive_and_its_negatives_with_cosines(explored):
    sample = pq.read_table(explored.build / "contrastive_train.parquet").to_pylist()[NO_VECTOR_SAMPLE]
    states = {r["state_hash"]: r["state_pp"] for r in pq.read_table(explored.build / "states.parquet").to_pylist()}
    status, html = get(f"{explored.url}sample/train/{sample['sample_id']}")
    assert status == 200
    articles = re.findall(r'<article class="member (\w+)" data-role="\w+" data-tier="(\w*)">(.*?)</article>', html, re.S)
    hashes = [sample["pos_state_hash"], *sample["neg_state_hashes"]]
    assert [(a[0], a[1]) for a in articles] == [("positive", "")] + [("negative", t) for t in sample["neg_tiers"]]
    pos = explored.vectors[hashes[0]]
    for (_, _, body), h in zip(articles, hashes):
        state = unescape(re.search(r'<pre class="state">(.*?)</pre>', body, re.S).group(1))
        assert state == states[h]
        if h not in explored.vectors:  # the state the export has no vector for
            assert h == sample["neg_state_hashes"][0] and "cos " not in body
        else:
            v = explored.vectors[h]
            cosine = float(v @ pos / (((v @ v) ** 0.5) * ((pos @ pos) ** 0.5)))
            assert re.search(r"cos (-?\d\.\d{3})", body).group(1) == f"{cosine:.3f}"
        records = [r for r in explored.records if r["state_hash"] == h]
        summary = re.search(r"<summary>(\d+) records? with this state</summary>", body).group(1)
        assert int(summary) == len(records)
        first = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td>", body)
        assert len(first) == min(len(records), 20)
        assert {(s, 0) for s, _ in first} <= {(r["source"], 0) for r in records}


@pytest.mark.parametrize("path", ["sample/test/0", "sample/train/99999", "sample/train/abc", "sample/val/-1"])
def test_unknown_samples_are_404(explored, path):
    assert get(explored.url + path)[0] == 404


# ----------------------------------------------------------------------------- build page


def test_build_page_has_the_report_plots_inputs_and_comparison(explored):
    status, html = get(explored.url + "build")
    assert status == 200
    assert "<h1>demo: data report</h1>" in html
    plots = re.findall(r'<img src="([^"]+)"', html)
    assert {p.rsplit("/", 1)[1] for p in plots} == {p.name for p in (explored.build / "plots").glob("*.png")}
    for p in plots:
        with urllib.request.urlopen(explored.url + p.lstrip("/"), timeout=60) as r:
            assert r.headers["content-type"] == "image/png"
            assert r.read() == (explored.build / "plots" / p.rsplit("/", 1)[1]).read_bytes()
    lock = json.loads((explored.build / "lock.json").read_text())
    for entry in lock["inputs"]:
        assert f"<code>{entry['path']}</code>" in html
    here = {r["theorem_name"] for r in explored.records}
    there = {r["theorem_name"] for r in explored.records if r["source"] in EARLY_FILES}
    proved_here = {r["theorem_name"] for r in explored.records if r["is_proof_complete"]}
    proved_there = {r["theorem_name"] for r in explored.records if r["is_proof_complete"] and r["source"] in EARLY_FILES}
    expected = {"here_only": len(here - there), "there_only": len(there - here),
                "proved_here_only": len((proved_here - proved_there) & there),
                "proved_there_only": len((proved_there - proved_here) & here),
                "both_proved": len(proved_here & proved_there)}
    shown = {k: int(v.replace(",", "")) for k, v in re.findall(r'data-category="(\w+)">([\d,]+)</td>', html)}
    assert {k: shown[k] for k in expected} == expected and expected["here_only"] > 0


# ----------------------------------------------------------------------------- what is never served


@pytest.mark.parametrize("path", [
    "/plots/../lock.json", "/plots/%2e%2e/lock.json", "/plots/..%2flock.json", "/plots/%2e%2e%2fstats.json",
    "/plots//etc/passwd", "/plots/%2Fetc%2Fpasswd", "/plots/../../../../etc/passwd", "/plots/sft_sources.png/..",
    "/static/../data.py", "/static/%2e%2e/data.py", "/static/%2e%2e%2f%2e%2e%2fcli.py", "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd", "/lock.json", "/views.duckdb",
])
def test_paths_outside_the_build_and_static_files_are_refused(explored, path):
    assert raw_status(explored.url, path) in (400, 404)


def test_static_files_and_plots_are_served(explored):
    assert raw_status(explored.url, "/static/d3-hierarchy.min.js") == 200
    assert raw_status(explored.url, "/static/d3-hierarchy.LICENSE") == 200
    assert raw_status(explored.url, "/plots/contrastive.png") == 200


def test_concurrent_requests_get_the_same_pages_as_one_at_a_time(explored):
    paths = ["?sort=nodes&dir=desc", "theorem?name=Complex.exists_of_135", "sample/train/5", "?q=nat.prime&page=2",
             "theorem?name=lean_workbook_plus_27306", "build"]
    alone = {p: get(explored.url + p) for p in paths}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda p: (p, get(explored.url + p)), paths * 4))
    assert all(page == alone[p] for p, page in together)
    assert all(status == 200 for status, _ in alone.values())


# ----------------------------------------------------------------------------- the command


def test_explore_refuses_a_build_that_does_not_exist(tmp_path):
    proc = run_cli("explore", "demo", "--build-dir", str(tmp_path), "--port", "0", timeout=120)
    assert proc.returncode == 2
    assert "run prover-data build-manifest demo first" in proc.stderr
    assert proc.stdout == ""


def test_explore_listens_on_this_machine_only_by_default_and_refuses_a_taken_port(explored):
    assert urlsplit(explored.url).hostname == "127.0.0.1"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        proc = run_cli("explore", "demo", "--build-dir", str(explored.build.parent), "--port", port, timeout=120)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and proc.stdout == ""


def test_explore_help_has_examples():
    proc = run_cli("explore", "--help")
    assert proc.returncode == 0
    assert "Examples:" in proc.stdout and "--against" in proc.stdout and "127.0.0.1" in proc.stdout
