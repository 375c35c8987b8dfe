"""Telegram preview pages (t.me/s/<channel>) recorded in the real markup: what each message becomes.

The fixtures under tests/data/telegram/ carry the shapes that trip a parser: emoji images, links and
<br>, a video, a "media is too big" video, a photo, a forward from a channel and from a hidden user,
a reply quoting its parent, a pinned/created service message, "1.2K"-style views, both pagination links.
"""

import json
import zipfile
from pathlib import Path

import pytest

from crawlers.base import Follow, Page
from crawlers.telegram import TelegramChannel, TelegramDiscussion, parse_views
from routewatch.core.catalog import Catalog
from routewatch.core.records import Post, post_id_for
from tests.conftest import run_cli
from tests.crawlers.records import collect, media_bytes, origin_env, records, sha256
from tests.httpserver import TestServer, respond

DATA = Path(__file__).resolve().parents[1] / "data" / "telegram"
FIRST = "https://t.me/s/ruta_norte"
OLDER = "https://t.me/s/ruta_norte?before=1196"


def discover(name: str, url: str) -> list[Post | Follow]:
    page = Page(url=url, fetch_url=url, status=200, body=(DATA / name).read_bytes(), source="tg:ruta_norte",
                captured_at="2026-10-03T00:00:00Z")
    return list(TelegramChannel().discover(page))


def posts_of(out):
    return {p.platform_id: p for p in out if isinstance(p, Post)}


def test_first_page_messages_in_order_without_the_service_message():
    out = discover("ruta_norte.html", FIRST)
    assert [o.platform_id if isinstance(o, Post) else o for o in out if not getattr(o, "comments", False)] == [
        "ruta_norte/1197", "ruta_norte/1198", "ruta_norte/1199", "ruta_norte/1200", "ruta_norte/1201",
        "ruta_norte/1202", Follow(OLDER, crawler="telegram.v1"),
    ]
    # each message's discussion page, to take only when comment pages are asked for
    assert [o for o in out if getattr(o, "comments", False)] == [
        Follow(f"https://t.me/ruta_norte/{m}?embed=1&discussion=1&comments_limit=100", crawler="telegram_discussion.v1",
               comments=True) for m in range(1197, 1203)]


def test_text_keeps_emoji_links_and_line_breaks():
    p = posts_of(discover("ruta_norte.html", FIRST))["ruta_norte/1197"]
    assert p.caption == ("🚌 基多 → 图尔坎 大巴今天照常发车，车票 15 美元。\n边境那边排队两个小时左右。\n\n"
                         "Aviso oficial de Panamá: migracion.gob.pa\n#走线 #ruta")
    assert p.post_id == post_id_for("telegram", "ruta_norte/1197")
    assert p.url == p.page_url == "https://t.me/ruta_norte/1197"
    assert p.posted_at == "2026-10-01T06:12:40Z"
    assert p.views == 1200
    assert p.media_url == ""
    assert p.discovered_via == FIRST
    assert p.captured_at == "2026-10-03T00:00:00Z"


def test_video_message_has_its_file_and_duration():
    p = posts_of(discover("ruta_norte.html", FIRST))["ruta_norte/1198"]
    assert p.media_url == "https://cdn4.cdn-telegram.org/file/b8d2c41e0f.mp4?token=Qm9yZGVyUnV0YU5vcnRlMTE5OA"
    assert p.views == 32300
    assert json.loads(p.extra_json) == {"channel": "ruta_norte", "message_id": 1198, "photo": "",
                                        "has_video": True, "video_seconds": 47, "views_shown": "32.3K"}


def test_too_big_video_points_at_the_message_so_fetch_still_tries():
    p = posts_of(discover("ruta_norte.html", FIRST))["ruta_norte/1202"]
    assert p.media_url == "https://t.me/ruta_norte/1202"
    assert json.loads(p.extra_json)["video_seconds"] == 723
    assert p.caption == "完整版：从达连丛林出来到巴拿马营地的全过程。"


def test_photo_message_keeps_the_photo_but_has_no_media_to_fetch():
    p = posts_of(discover("ruta_norte.html", FIRST))["ruta_norte/1199"]
    assert p.media_url == ""
    assert json.loads(p.extra_json)["photo"] == "https://cdn4.cdn-telegram.org/file/Ph9Lm2aQw8Rt.jpg"
    assert p.caption == "塔帕丘拉移民局门口，今天早上的队伍。"


def test_forward_names_the_source_channel_not_the_message_number():
    p = posts_of(discover("ruta_norte.html", FIRST))["ruta_norte/1200"]
    assert p.forwarded_from == "otra_ruta"
    assert json.loads(p.extra_json)["forwarded_from_url"] == "https://t.me/otra_ruta/88"
    assert p.author_handle == "ruta_norte"  # the channel published it; "Lin" signed it
    assert json.loads(p.extra_json)["signer"] == "Lin"
    assert p.views == 1_100_000


def test_every_message_is_the_channel_s_and_edits_are_kept():
    posts = posts_of(discover("ruta_norte.html", FIRST))
    assert {p.author_handle for p in posts.values()} == {"ruta_norte"}  # unsigned posts too
    edited = {pid for pid, p in posts.items() if json.loads(p.extra_json).get("edited")}
    assert edited == {"ruta_norte/1199"}
    assert "signer" not in json.loads(posts["ruta_norte/1199"].extra_json)


def test_a_signed_message_that_was_edited_keeps_both():
    html = (DATA / "ruta_norte.html").read_text(encoding="utf-8").replace(
        'dir="auto">Lin</span>, <a class="tgme_widget_message_date"',
        'dir="auto">Lin</span>, edited &nbsp;<a class="tgme_widget_message_date"')
    page = Page(url=FIRST, fetch_url=FIRST, status=200, body=html.encode(), source="t", captured_at="2026-10-03T00:00:00Z")
    extra = json.loads(posts_of(list(TelegramChannel().discover(page)))["ruta_norte/1200"].extra_json)
    assert (extra["signer"], extra["edited"]) == ("Lin", True)


def test_message_ids_above_2_to_the_53_stay_strings():
    html = ((DATA / "ruta_norte.html").read_text(encoding="utf-8").replace('data-post="ruta_norte/1197"', 'data-post="ruta_norte/9007199254740993"'))
    page = Page(url=FIRST, fetch_url=FIRST, status=200, body=html.encode(), source="t", captured_at="2026-10-03T00:00:00Z")
    p = posts_of(list(TelegramChannel().discover(page)))["ruta_norte/9007199254740993"]
    assert json.loads(p.extra_json)["message_id"] == "9007199254740993"
    assert p.platform_id == "ruta_norte/9007199254740993"


def test_forward_from_a_hidden_user_keeps_the_shown_name():
    p = posts_of(discover("ruta_norte_before_1196.html", OLDER))["ruta_norte/1190"]
    assert p.forwarded_from == "Hermano Wei"


def test_reply_text_is_the_reply_not_the_quoted_parent():
    p = posts_of(discover("ruta_norte.html", FIRST))["ruta_norte/1201"]
    assert p.caption == "更正：图尔坎的车票涨到 18 美元了。"
    assert json.loads(p.extra_json)["reply_to"] == "ruta_norte/1197"


def test_oldest_page_ends_pagination_and_normalises_offsets():
    out = discover("ruta_norte_before_1196.html", OLDER)
    assert not [o for o in out if isinstance(o, Follow) and not o.comments]  # data-after (newer) is never followed
    posts = posts_of(out)
    assert sorted(posts) == ["ruta_norte/1188", "ruta_norte/1190"]  # "Channel created" is not a post
    assert posts["ruta_norte/1188"].posted_at == "2026-10-01T03:15:00Z"  # -05:00 → UTC
    assert posts["ruta_norte/1188"].caption.splitlines()[1] == "Bus Quito–Tulcán: 15 USD"


@pytest.mark.parametrize(("shown", "count"), [
    ("845", 845), ("1.2K", 1200), ("32.3K", 32300), ("64.1K", 64100), ("4.1M", 4_100_000), ("1.1M", 1_100_000),
    ("2K", 2000), ("4.85K", 4850), ("views", None),
])
def test_view_counts_as_shown_by_telegram(shown, count):
    assert parse_views(shown) == count


def test_crawl_and_fetch_keep_every_field_of_every_message(tmp_path):
    """The real crawl (scrapy) reads both recorded pages from a local origin, following the pagination, and the
    fetch stage downloads the one video the preview links; canonical URLs stay t.me. Every field of every post."""
    video = media_bytes("p04_darien_day3.mp4")
    pages = {
        "/robots.txt": lambda h: respond(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
        "/s/ruta_norte": lambda h: respond(h, 200, (DATA / "ruta_norte.html").read_bytes()),
        "/s/ruta_norte?before=1196": lambda h: respond(h, 200, (DATA / "ruta_norte_before_1196.html").read_bytes()),
        "/file/b8d2c41e0f.mp4": lambda h: respond(h, 200, video, "video/mp4"),
    }
    with TestServer(pages) as srv:
        data = tmp_path / "data"
        collect(data, origin_env(srv, "telegram", "telegram_cdn"), "crawl", "--url", FIRST)
        assert "/s/ruta_norte?before=1196" in srv.log
        assert "/file/b8d2c41e0f.mp4?token=Qm9yZGVyUnV0YU5vcnRlMTE5OA" in srv.log
    plain = {"platform": "telegram", "author": "ruta_norte", "signer": "", "forwarded_from": "", "edited": False,
             "reply_to": "", "media": "skipped E207"}
    assert records(data) == {
        "ruta_norte/1188": {**plain, "url": "https://t.me/ruta_norte/1188", "posted_at": "2026-10-01T03:15:00Z",
                            "text": "Precios octubre\nBus Quito–Tulcán: 15 USD\nLancha Necoclí–Acandí: 40 USD\n全程大概 6000 美元起。",
                            "views": 64100},
        "ruta_norte/1190": {**plain, "url": "https://t.me/ruta_norte/1190", "posted_at": "2026-10-01T01:02:03Z",
                            "text": "到了蒙特雷，谢谢大家。", "views": 512, "forwarded_from": "Hermano Wei"},
        "ruta_norte/1197": {**plain, "url": "https://t.me/ruta_norte/1197", "posted_at": "2026-10-01T06:12:40Z",
                            "text": "🚌 基多 → 图尔坎 大巴今天照常发车，车票 15 美元。\n边境那边排队两个小时左右。\n\n"
                                    "Aviso oficial de Panamá: migracion.gob.pa\n#走线 #ruta", "views": 1200},
        "ruta_norte/1198": {**plain, "url": "https://t.me/ruta_norte/1198", "posted_at": "2026-10-01T09:30:05Z",
                            "text": "Cruce del río en Necoclí, la lancha sale a las 7 de la mañana. 船票 40 美元一个人。",
                            "views": 32300, "media": sha256(video)},
        "ruta_norte/1199": {**plain, "url": "https://t.me/ruta_norte/1199", "posted_at": "2026-10-01T15:47:19Z",
                            "text": "塔帕丘拉移民局门口，今天早上的队伍。", "views": 845, "edited": True},
        "ruta_norte/1200": {**plain, "url": "https://t.me/ruta_norte/1200", "posted_at": "2026-10-02T02:03:44Z",
                            "text": "Retén en Huixtla: piden 500 pesos por persona. No paguen a nadie sin recibo.",
                            "views": 1_100_000, "signer": "Lin", "forwarded_from": "otra_ruta"},
        "ruta_norte/1201": {**plain, "url": "https://t.me/ruta_norte/1201", "posted_at": "2026-10-02T08:21:10Z",
                            "text": "更正：图尔坎的车票涨到 18 美元了。", "views": 4850, "reply_to": "ruta_norte/1197"},
        # "Media is too big": the preview has no file; fetch tries the message URL, which the local origin lacks
        "ruta_norte/1202": {**plain, "url": "https://t.me/ruta_norte/1202", "posted_at": "2026-10-02T11:00:00Z",
                            "text": "完整版：从达连丛林出来到巴拿马营地的全过程。", "views": 4100, "media": "failed E203"},
    }


# ---- discussion-group replies (comments) of a channel message (issue 19) -----------------------------------------

DISCUSSION = "https://t.me/ruta_norte/1201?embed=1&discussion=1&comments_limit=100"
COMMENTERS = ("bus_rider_88", "Mateo R", "Ana M.", "zx_traveler", "走线小张")


def test_discussion_page_replies_become_comments_with_their_thread():
    page = Page(url=DISCUSSION, fetch_url=DISCUSSION, status=200, source="tg:ruta_norte", captured_at="2026-10-03T00:00:00Z",
                body=(DATA / "ruta_norte_1201_discussion.html").read_bytes())
    pid = post_id_for("telegram", "ruta_norte/1201")
    got = list(TelegramDiscussion().discover(page))
    assert [(c.post_id, c.comment_id, c.parent, c.author, c.posted_at, c.text) for c in got] == [
        (pid, "5301", "", "bus_rider_88", "2026-10-02T09:02:11Z", "18 美元是单程吗？"),
        # the channel answering in its own group; the quoted question is not the text
        (pid, "5302", "5301", "ruta_norte", "2026-10-02T09:15:40Z", "是单程，往返 30 美元。\n车站在 Terminal Norte。"),
        # an account without a username: the name it shows
        (pid, "5303", "", "Ana M.", "2026-10-02T09:40:00Z", "¿Y desde Ipiales cuánto cuesta el taxi a la frontera?"),
        # 5304 is a sticker: no words, no comment
        (pid, "5305", "5302", "zx_traveler", "2026-10-02T10:30:00Z", "司机怎么联系？多少钱包车？"),
    ]


def _discussion_site():
    empty = b"<html><body class='widget_frame_base tgme_widget body_widget_discussion'></body></html>"
    return {
        "/robots.txt": lambda h: respond(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
        "/s/ruta_norte": lambda h: respond(h, 200, (DATA / "ruta_norte.html").read_bytes()),
        "/s/ruta_norte?before=1196": lambda h: respond(h, 200, (DATA / "ruta_norte_before_1196.html").read_bytes()),
        "/ruta_norte/1201": lambda h: respond(h, 200, (DATA / "ruta_norte_1201_discussion.html").read_bytes()),
        "*": lambda h: respond(h, 200, empty),  # the other messages' discussions: no replies
    }


def test_comment_pages_are_taken_only_when_asked(tmp_path):
    with TestServer(_discussion_site()) as srv:
        collect(tmp_path / "off", origin_env(srv, "telegram"), "crawl", "--url", FIRST, fetch=False)
        assert not [p for p in srv.log if "discussion=1" in p]


def test_discussion_replies_are_comment_units_found_by_search_and_no_commenter_is_shown(tmp_path):
    """Crawl with comment pages on: the replies under ruta_norte/1201 are `comment` units of that post (searchable,
    shown as comments); neither search, export nor the post's page names a commenter."""
    data = tmp_path / "data"
    with TestServer(_discussion_site()) as srv:
        env = {**origin_env(srv, "telegram"), "ROUTEWATCH_CRAWL__COMMENT_PAGES": "true"}
        crawl = collect(data, env, "crawl", "--url", FIRST, fetch=False)
        assert "/ruta_norte/1201?embed=1&discussion=1&comments_limit=100" in srv.log
    report = next(r for r in crawl if r["stage"] == "crawl")
    assert report["extra"]["per_source"]["cli"]["crawl/comments"] == 4
    pid = post_id_for("telegram", "ruta_norte/1201")
    cat = Catalog(data / "catalog.sqlite")
    try:
        units = [(u.unit_id.rsplit(":", 1)[1], u.kind, u.text) for u in cat.units(pid) if u.kind == "comment"]
        thread = json.loads(cat.get_post(pid).extra_json)["comments"]
    finally:
        cat.close()
    assert units == [("5301", "comment", "18 美元是单程吗？"),
                     ("5302", "comment", "是单程，往返 30 美元。\n车站在 Terminal Norte。"),
                     ("5303", "comment", "¿Y desde Ipiales cuánto cuesta el taxi a la frontera?"),
                     ("5305", "comment", "司机怎么联系？多少钱包车？")]
    assert {k: v["parent"] for k, v in thread.items()} == {"5301": "", "5302": "5301", "5303": "", "5305": "5302"}
    run_cli("extract", data_dir=data, timeout=600)
    run_cli("index", data_dir=data, timeout=600)
    hits = json.loads(run_cli("search", "包车", "--json", data_dir=data).stdout)["hits"]
    assert [(h["post_id"], h["source"], h["unit_id"]) for h in hits] == [(pid, "comment", f"{pid}:comment:5305")]
    human = run_cli("search", "包车", data_dir=data, env={"COLUMNS": "200"}).stdout
    assert "comment" in human and "包车" in human
    out = tmp_path / "posts.jsonl"
    run_cli("export", "--format", "jsonl", "-o", str(out), data_dir=data)
    # the post's page and API: the replies as comments, a fact from one says it came from a comment
    from tests.web.helpers import client_for

    with client_for(data) as web:
        html = web.get(f"/posts/{pid}").text
        api = web.get(f"/api/posts/{pid}").json()
    assert html.count('class="unit unit-comment') == 4
    assert {u["unit_id"].rsplit(":", 1)[1] for u in api["units"] if u["kind"] == "comment"} == {"5301", "5302", "5303", "5305"}
    fact_kinds = {ev["unit_kind"] for kind in ("costs", "places", "bribes", "countries")
                  for f in api["facts"].get(kind) or [] for ev in f.get("evidence") or []}
    assert "comment" in fact_kinds  # "往返 30 美元" is a cost read from a comment
    bundle = tmp_path / "evidence.zip"
    run_cli("evidence", pid, "-o", str(bundle), data_dir=data)
    with zipfile.ZipFile(bundle) as z:
        packed = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if not n.endswith(".gz"))
    shown = "\n".join([json.dumps(hits, ensure_ascii=False), human, out.read_text(encoding="utf-8"), html,
                        json.dumps(api, ensure_ascii=False), packed])
    assert "司机怎么联系" in shown
    named = {name: [c for c in COMMENTERS if c in text] for name, text in (
        ("search --json", json.dumps(hits, ensure_ascii=False)), ("search", human), ("export", out.read_text(encoding="utf-8")),
        ("post page", html), ("post API", json.dumps(api, ensure_ascii=False)),
        *((f"evidence {n}", z.read(n).decode("utf-8", "replace")) for z in [zipfile.ZipFile(bundle)]
          for n in z.namelist() if not n.endswith(".gz")))}
    assert {k: v for k, v in named.items() if v} == {}
