"""`routewatch export QUERY [filters]`: the posts of a search, every page, in CSV / JSONL / Parquet, with flat
fact columns, formula cells neutralised in CSV only, an optional BOM; and the same file from the API."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from index.sqlite_fts import SqliteIndex
from routewatch import export as export_mod
from routewatch.search_input import build_query
from tests.conftest import run_cli
from tests.search_world import add_posts, gold

ECCO = ("EC", "CO", "PA")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """27 posts on the EC>CO>PA route (more than one search page of 20), 5 on TR>EC, 1 with a formula caption."""
    d = tmp_path_factory.mktemp("export") / "data"
    rows = [(f"ruta/{i}", f"走线 第{i}天 从厄瓜多尔到哥伦比亚再到巴拿马", f"2026-11-{1 + i % 28:02d}T08:{i:02d}:00Z",
             gold(ECCO, costs=((100.0 + i, "USD"),), bribes=i % 2)) for i in range(27)]
    rows += [(f"tr/{i}", f"先飞土耳其再到厄瓜多尔 {i}", f"2026-10-{10 + i:02d}T08:00:00Z", gold(("TR", "EC")))
             for i in range(5)]
    rows += [("evil/1", "=HYPERLINK(\"http://x.test\",\"走线\") -5 @a", "2026-11-29T08:00:00Z", gold(("TR", "EC")))]
    ids = add_posts(d, rows)
    return d, ids


def _search_ids(d, *args):
    cp = run_cli("search", *args, "--limit", "1000", "--json", data_dir=d)
    return [h["post_id"] for h in json.loads(cp.stdout)["hits"]]


def test_filtered_export_has_the_search_posts_all_pages(world, tmp_path):
    d, ids = world
    want = _search_ids(d, "--route", "EC>CO>PA")
    assert len(want) == 27 and set(want) == set(ids[:27])
    out = tmp_path / "r.csv"
    cp = run_cli("export", "--format", "csv", "-o", str(out), "--route", "EC>CO>PA", "--json", data_dir=d)
    assert json.loads(cp.stdout) == {"format": "csv", "path": str(out), "records": 27, "complete": True}
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM unless asked
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert [r["post_id"] for r in rows] == want  # same posts, same order as the search
    first = next(r for r in rows if r["post_id"] == ids[3])
    assert (first["countries"], first["route"], first["cost_amount"], first["cost_currency"], first["bribe_count"]) \
        == ("EC;CO;PA", "EC>CO>PA", "103.0", "USD", "1")
    assert json.loads(first["extraction"])["summary"]["route"] == ["EC", "CO", "PA"]  # lossless column kept
    assert first["author"].startswith("user-")  # the export's privacy: pseudonyms, as before


def test_text_query_export_matches_search(world, tmp_path):
    d, ids = world
    want = _search_ids(d, "土耳其")
    assert set(want) == set(ids[27:32])
    out = tmp_path / "t.jsonl"
    run_cli("export", "土耳其", "--format", "jsonl", "-o", str(out), data_dir=d)
    assert [json.loads(ln)["post_id"] for ln in out.read_text(encoding="utf-8").splitlines()] == want


def test_no_query_is_everything_and_bom(world, tmp_path):
    d, ids = world
    out = tmp_path / "all.csv"
    run_cli("export", "--format", "csv", "--bom", "-o", str(out), data_dir=d)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert sorted(r["post_id"] for r in rows) == sorted(ids)
    assert rows[0].keys() >= {"post_id", "countries", "route", "cost_amount", "cost_currency", "bribe_count"}


def test_formula_cell_neutralised_in_csv_only(world, tmp_path):
    d, ids = world
    evil = ids[-1]
    run_cli("export", "HYPERLINK", "--format", "csv", "-o", str(tmp_path / "e.csv"), data_dir=d)
    row, = csv.DictReader(io.StringIO((tmp_path / "e.csv").read_text(encoding="utf-8")))
    assert row["post_id"] == evil
    assert row["caption"] == "'=HYPERLINK(\"http://x.test\",\"走线\") -5 @a"
    run_cli("export", "HYPERLINK", "--format", "jsonl", "-o", str(tmp_path / "e.jsonl"), data_dir=d)
    rec = json.loads((tmp_path / "e.jsonl").read_text(encoding="utf-8"))
    assert rec["caption"].startswith("=HYPERLINK(")
    assert row["url"] == rec["url"] and row["post_id"] == rec["post_id"]  # ids and URLs as in JSONL
    run_cli("export", "HYPERLINK", "--format", "parquet", "-o", str(tmp_path / "e.parquet"), data_dir=d)
    t = pq.read_table(tmp_path / "e.parquet").to_pylist()
    assert [r["post_id"] for r in t] == [evil] and t[0]["caption"].startswith("=HYPERLINK(")
    assert t[0]["route"] == "TR>EC"


def test_neutralise_cells():
    assert [export_mod.neutralise(v) for v in ("=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx", "a=b", 5, None)] \
        == ["'=1+1", "'+86 138", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "a=b", 5, None]


def test_matching_ids_walks_every_page(world, monkeypatch):
    d, ids = world
    monkeypatch.setattr(export_mod, "PAGE", 4)  # 27 hits → 7 pages
    idx = SqliteIndex(d / "catalog.sqlite", read_only=True)
    try:
        got, complete = export_mod.matching_ids(idx, build_query("", route="EC>CO>PA", sort="date"))
    finally:
        idx.close()
    assert complete and len(got) == 27 and set(got) == set(ids[:27])
