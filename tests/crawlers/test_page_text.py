"""A fetched page is read in its own charset (BOM, Content-Type, <meta charset>), as scrapy reads it; half an
emoji in the JSON a page embeds is stored as U+FFFD."""

from pathlib import Path

import pytest

from crawlers.base import Page, without_lone_surrogates
from crawlers.platforms import TikTok
from crawlers.web import WebPage
from routewatch.core.catalog import Catalog

CAPTION = "走线攻略：厄瓜多尔免签，坐大巴到哥伦比亚"


def html(charset: str) -> str:
    return (f'<html><head><meta charset="{charset}"><meta property="og:description" content="{CAPTION}">'
            "<title>走线</title></head><body></body></html>")


def page(body: bytes, headers: dict[str, str]) -> Page:
    return Page(url="https://news.example.org/a", fetch_url="https://news.example.org/a", status=200, body=body,
                source="web:test", captured_at="2026-11-03T00:00:00Z", headers=headers)


@pytest.mark.parametrize(("encoding", "headers"), [
    ("gbk", {"Content-Type": "text/html; charset=gbk"}),  # declared by the server
    ("gbk", {"content-type": "text/html"}),  # only <meta charset> says it (header name in lower case)
    ("utf-16", {"Content-Type": "text/html; charset=utf-16"}),  # with a byte-order mark
    ("utf-8-sig", {"Content-Type": "text/html; charset=iso-8859-1"}),  # the BOM wins over a wrong header
])
def test_caption_decoded_in_the_pages_charset(encoding, headers):
    body = html(encoding.removesuffix("-sig")).encode(encoding)
    [post] = list(WebPage().discover(page(body, headers)))
    assert post.caption == CAPTION


def test_undeclared_page_is_utf8_and_bad_bytes_are_replaced():
    body = html("").encode("utf-8").replace("哥伦比亚".encode(), b"\xff\xfe\xc0\x80")
    [post] = list(WebPage().discover(page(body, {})))
    assert post.caption.startswith("走线攻略：厄瓜多尔免签，坐大巴到")
    assert "\ufffd" in post.caption


def test_half_an_emoji_in_embedded_page_json_is_stored_as_replacement_character(tmp_path):
    html = (Path(__file__).resolve().parents[1] / "data" / "ytdlp" / "pages" / "tiktok_video.html").read_bytes()
    html = html.replace('"desc":"内科克利'.encode(), '"desc":"\\ud83c内科克利'.encode(), 1)
    url = "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905"
    tiktok_page = Page(url=url, fetch_url=url, status=200, body=html, source="web:test", captured_at="2026-11-03T00:00:00Z")
    [post] = list(TikTok().discover(tiktok_page))
    assert post.caption.startswith("\ud83c内科克利")  # what json.loads makes of the escape
    clean = without_lone_surrogates(post)
    assert clean.caption.startswith("\ufffd内科克利") and "\ud83c" not in clean.extra_json
    cat = Catalog(tmp_path / "catalog.sqlite")
    assert cat.upsert_post(clean)
    assert cat.get_post(clean.post_id).caption == clean.caption
    cat.close()
