"""Change kinds as alert kinds: a saved search added with `changes` gets, beside its new posts, the onsets of
the week changes (changes.py) among them — once each — on the timeline corpus of test_changes, whose weeks
arrive in two runs (up to 2026-W36, then W37-W41)."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from routewatch.core.catalog import Catalog
from routewatch.pipeline import Context, stage_index
from routewatch.settings import load_settings
from tests import test_changes
from tests.conftest import run_cli
from tests.corpus_helpers import add_post
from tests.search_world import check_saved
from tests.web.helpers import client_for

ATOM = "{http://www.w3.org/2005/Atom}"

extractor = test_changes.extractor  # the spaCy extractor fixture, shared


def _run(d, extractor, plan):
    """One "run": the posts of `plan` into the catalog, then the index stage, then the saved searches."""
    with Catalog(d / "catalog.sqlite") as cat:
        for j, (posted, text) in plan:
            pid = add_post(cat, extractor, platform="telegram", platform_id=f"chan/{j}", caption=text,
                           posted_at=posted)
            with cat.tx():
                cat.set_status(pid, "extract", "done")  # as stage_extract leaves it: the index stage picks it up
        stage_index(Context(settings=load_settings(d), catalog=cat))




def test_change_onsets_are_alerted_once(tmp_path, extractor):
    d = tmp_path / "data"
    d.mkdir()
    plan = list(enumerate(test_changes._plan(True)))
    early = [(j, x) for j, x in plan if x[0] < "2026-09-07"]  # W30-W36
    late = [(j, x) for j, x in plan if x[0] >= "2026-09-07"]  # W37-W41
    _run(d, extractor, early)
    run_cli("saved", "add", "route", "走线", "--changes", data_dir=d)
    run_cli("saved", "add", "plain", "走线", data_dir=d)
    _run(d, extractor, late)
    cp = run_cli("alerts", "--json", data_dir=d)
    got = json.loads(cp.stdout)["alerts"]
    changes = {a["change"]["key"] for a in got if a["kind"] == "change"}
    assert changes == {"2026-W37|place:Ipiales|rise", "2026-W37|leg:EC>CO|rise",
                       "2026-W38|price:transport:USD:50:100|rise", "2026-W38|price:transport:USD:20:50|fall"}
    assert all(a["saved_search"] == "route" for a in got if a["kind"] == "change")  # only where asked for
    matches = {(a["saved_search"], a["post_id"]) for a in got if a["kind"] == "match"}
    assert len(matches) == 2 * len(late)
    ipiales = next(a for a in got if a.get("change", {}).get("key") == "2026-W37|place:Ipiales|rise")
    assert ipiales["change"]["count"] == "<5" and ipiales["title"] == "place Ipiales rise in 2026-W37"
    assert len(ipiales["change"]["posts"]) == 4
    client = client_for(d)  # the page and the feed show the change alerts beside the posts
    page = client.get("/alerts").text
    assert page.count('data-change="') == 4 and 'href="/digest?week=2026-W37"' in page
    feed = ElementTree.fromstring(client.get("/alerts/route.atom").content)
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert len(ids) == len(set(ids)) == len(late) + 4
    assert "tag:routewatch,2026:saved/route/change/2026-W37|place:Ipiales|rise" in ids
    assert check_saved(d) == {"plain": [], "route": []}
    assert json.loads(run_cli("alerts", "--json", data_dir=d).stdout)["count"] == 0  # no repeats
