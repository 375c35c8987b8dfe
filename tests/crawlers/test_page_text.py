"""A fetched page is read in its own charset (BOM, Content-Type, <meta charset>), as scrapy reads it."""

import pytest

from crawlers.base import Page
from crawlers.web import WebPage

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
