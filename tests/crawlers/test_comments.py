"""Comments as `comment` text units (issue 19): Zeeschuimer TikTok comment captures and yt-dlp comment lists
(recorded, invented content in the real shapes) become units searchable as comments, with their thread in
extra.comments, bounded per post, and no commenter handle in any export."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from crawlers.comments import from_ytdlp
from crawlers.imports import import_file
from routewatch.core.catalog import Catalog
from routewatch.core.records import post_id_for
from routewatch.settings import load_settings

DATA = Path(__file__).resolve().parents[1] / "data"
POSTS = DATA / "zeeschuimer" / "tiktok_douyin.ndjson"
COMMENTS = DATA / "zeeschuimer" / "tiktok_comments.ndjson"
VIDEO = post_id_for("tiktok", "7431029384756102905")
HANDLES = ("walker_q", "lu_answers", "guide_hidden_01", "walker_r", "walker_s", "问路的人", "6900000000000000101")


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def test_zeeschuimer_comment_captures_become_comment_units(catalog, tmp_path):
    s = load_settings(tmp_path)
    import_file("zeeschuimer", POSTS, catalog, s.crawl)
    rep = import_file("zeeschuimer", COMMENTS, catalog, s.crawl)
    assert (rep.read, rep.imported, rep.duplicates, rep.comments, rep.failed_by_code) == (4, 1, 3, 4, {})
    units = [u for u in catalog.units(VIDEO) if u.kind == "comment"]
    assert [(u.unit_id.rsplit(":", 1)[1], u.text) for u in units] == [
        ("7431100000000000101", "船票现在多少钱？从哪里上船？"),
        ("7431100000000000102", "上个月是40美元一个人，在内科克利码头买"),
        ("7431100000000000103", "怎么联系向导？加 @guide_hidden_01 吗")]
    thread = json.loads(catalog.get_post(VIDEO).extra_json)["comments"]
    assert thread["7431100000000000102"] == {"parent": "7431100000000000101", "author": "lu_answers",
                                             "posted_at": "2026-10-20T12:40:00Z", "likes": 12}
    assert thread["7431100000000000101"]["parent"] == ""
    # a comment on a video not seen before brings its post along (from the capture's share_info)
    other = catalog.get_post(post_id_for("tiktok", "7431029384756199999"))
    assert (other.url, other.caption, other.author_handle) == (
        "https://www.tiktok.com/@camino.al.norte/video/7431029384756199999", "达连出来以后 巴拿马营地的第一晚",
        "camino.al.norte")
    assert [u.text for u in catalog.units(other.post_id)] == ["巴拿马营地有吃的吗"]
    again = import_file("zeeschuimer", COMMENTS, catalog, s.crawl)
    assert (again.imported, again.comments) == (0, 0)
    assert catalog.db.execute("SELECT COUNT(*) FROM units WHERE kind='comment'").fetchone()[0] == 4


def test_comments_per_post_are_bounded(catalog, tmp_path):
    s = load_settings(tmp_path, crawl={"max_comments": 2})
    rep = import_file("zeeschuimer", COMMENTS, catalog, s.crawl)
    assert rep.comments == 3  # two under the first video, one under the other
    assert len([u for u in catalog.units(VIDEO) if u.kind == "comment"]) == 2


def test_a_comment_is_found_by_search_as_a_comment_and_exports_name_no_commenter(catalog, tmp_path):
    from index.base import Query
    from index.sqlite_fts import SqliteIndex
    from routewatch.export import export
    from routewatch.pipeline import build_doc

    s = load_settings(tmp_path)
    import_file("zeeschuimer", COMMENTS, catalog, s.crawl)
    idx = SqliteIndex(tmp_path / "catalog.sqlite")
    try:
        idx.upsert(build_doc(catalog, pid) for pid in (r[0] for r in catalog.db.execute("SELECT post_id FROM posts")))
        hits = idx.search(Query(text="多少钱"))
    finally:
        idx.close()
    assert [(h.post_id, h.source, h.unit_id.rsplit(":", 2)[1]) for h in hits] == [(VIDEO, "comment", "comment")]
    out = tmp_path / "posts.jsonl"
    export(catalog, s, "jsonl", out)
    text = out.read_text(encoding="utf-8")
    assert "船票现在多少钱" in text
    assert [h for h in HANDLES if h in text] == []


def test_ytdlp_comments_become_units_with_their_thread():
    info = json.loads((DATA / "ytdlp" / "youtube_Rn8uT2aJcQe_comments.info.json").read_text(encoding="utf-8"))
    pid = post_id_for("youtube", "Rn8uT2aJcQe")
    got = from_ytdlp(pid, info, limit=100)
    assert [(c.comment_id, c.parent, c.author, c.text) for c in got] == [
        ("UgzQ1aB2cD3eF4gH5iJ4AaABAg", "", "UCaskerOne000000000000AA", "走这段路的时候水到腰那么深吗？"),
        ("UgzQ1aB2cD3eF4gH5iJ4AaABAg.9zZ", "UgzQ1aB2cD3eF4gH5iJ4AaABAg", "UCr7Nq2TbW5xK8pLm3vD9aQe",
         "雨季到胸口，旱季到膝盖")]  # the blank one is no comment
    u = got[0].unit()
    assert (u.unit_id, u.kind, u.post_id) == (f"{pid}:comment:UgzQ1aB2cD3eF4gH5iJ4AaABAg", "comment", pid)
    assert len(from_ytdlp(pid, info, limit=1)) == 1


def test_search_command_shows_a_tiktok_comment_as_a_comment_and_names_no_commenter(tmp_path):
    """The commands a researcher types: import the comment captures, extract, index, search (human and --json)."""
    from tests.conftest import run_cli

    data = tmp_path / "data"
    run_cli("import", "zeeschuimer", str(COMMENTS), data_dir=data)
    run_cli("extract", data_dir=data, timeout=600)
    run_cli("index", data_dir=data, timeout=600)
    hits = json.loads(run_cli("search", "上船", "--json", data_dir=data).stdout)["hits"]
    assert [(h["post_id"], h["source"], h["unit_id"]) for h in hits] == [
        (VIDEO, "comment", f"{VIDEO}:comment:7431100000000000101")]
    human = run_cli("search", "上船", data_dir=data, env={"COLUMNS": "200"}).stdout
    row = next(line for line in human.splitlines() if "上船" in line)
    assert "comment" in row
    assert [h for h in (*HANDLES, "问路的人", "老陆", "路人乙") if h in human + json.dumps(hits, ensure_ascii=False)] == []


def test_a_youtube_comment_thread_names_no_commenter_in_evidence_export_search_or_the_post_page(tmp_path):
    """What the fetch stage keeps of a YouTube video fetched with its comments (yt-dlp's info, thread included, as
    the media's info JSON; the comments as units), read back through every door a person uses."""
    from crawlers.store import store_post
    from crawlers.ytdlp_discovery import info_to_post
    from routewatch.core.records import Media
    from tests.conftest import run_cli
    from tests.web.helpers import client_for

    info = json.loads((DATA / "ytdlp" / "youtube_Rn8uT2aJcQe_comments.info.json").read_text(encoding="utf-8"))
    post = info_to_post(info, source="yt", discovered_via="https://www.youtube.com/watch?v=Rn8uT2aJcQe",
                        captured_at="2026-10-20T00:00:00Z")
    data = tmp_path / "data"
    data.mkdir()
    clip = (Path(__file__).resolve().parents[2] / "routewatch" / "demo" / "corpus" / "media" / "p04_darien_day3.mp4")
    body = clip.read_bytes()
    sha = hashlib.sha256(body).hexdigest()
    (data / "media" / sha[:2]).mkdir(parents=True)
    (data / "media" / sha[:2] / f"{sha}.mp4").write_bytes(body)
    cat = Catalog(data / "catalog.sqlite")
    try:
        store_post(cat, post)  # crawled
        cat.put_media(Media(post_id=post.post_id, path=f"media/{sha[:2]}/{sha}.mp4", sha256=sha, size=len(body),
                            info_json=json.dumps(info, ensure_ascii=False)))
        with cat.tx():
            for c in from_ytdlp(post.post_id, info, limit=100):
                cat.put_unit(c.unit())
    finally:
        cat.close()
    run_cli("extract", data_dir=data, timeout=600)
    run_cli("index", data_dir=data, timeout=600)
    hits = json.loads(run_cli("search", "旱季", "--json", data_dir=data).stdout)["hits"]
    assert [(h["source"], h["unit_id"]) for h in hits] == [("comment", f"{post.post_id}:comment:UgzQ1aB2cD3eF4gH5iJ4AaABAg.9zZ")]
    bundle, export = tmp_path / "b.zip", tmp_path / "all.jsonl"
    run_cli("evidence", post.post_id, "-o", str(bundle), data_dir=data)
    run_cli("export", "--format", "jsonl", "-o", str(export), data_dir=data)
    with zipfile.ZipFile(bundle) as z:
        packed = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".json"))
    with client_for(data) as web:
        page, api = web.get(f"/posts/{post.post_id}").text, web.get(f"/api/posts/{post.post_id}").text
    shown = "\n".join([json.dumps(hits, ensure_ascii=False), packed, export.read_text(encoding="utf-8"), page, api])
    assert "走这段路的时候水到腰那么深吗" in shown and "雨季到胸口" in packed
    assert [h for h in ("asker_one", "UCaskerOne000000000000AA", "@blank") if h in shown] == []
