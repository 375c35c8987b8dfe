"""Telegram public channel preview pages (`https://t.me/s/<channel>`) and a message's discussion page.

In: a preview page.  Out: one Post per message (id, date, text, views, video, "forwarded from"; the
channel as author, a signature as `signer`, `edited` and rounded view counts as shown in extra), a
Follow to the older page (`?before=N`), so pagination goes back in time, and one to each message's
discussion page (a comments Follow: taken only when `crawl.comment_pages` is on). Service messages
("channel created", "pinned …") are not posts; a reply's quoted parent never becomes the text.
A discussion page (`t.me/<channel>/<id>?embed=1&discussion=1`, the replies of the channel's linked group)
gives `Comment`s of that message: text, time, the comment it answers, the commenter (kept only where
every output pseudonymises it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urljoin, urlsplit

from parsel import Selector
from yt_dlp.utils import parse_duration

from crawlers.base import Comment, Crawler, Follow, Page, register
from crawlers.values import norm_date as _norm_date
from routewatch.core.records import Post, post_id_for

_VIEWS = re.compile(r"^([\d.]+)\s*([KMB]?)$", re.I)


def parse_views(s: str) -> int | None:
    m = _VIEWS.match(s.strip())
    if not m:
        return None
    mult = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}[m.group(2).upper()]
    try:  # Decimal: with floats "32.3K" came out as 32299
        n = int(Decimal(m.group(1)) * mult)
    except InvalidOperation:
        return None
    return n if n < 2**63 else None  # a count no SQLite integer can hold is not a count


def _text_of(sel: Selector) -> str:
    # <br> becomes a newline; everything else is the visible text.
    html = sel.get() or ""
    html = re.sub(r"<br\s*/?>", "\n", html)
    return "".join(Selector(text=html).xpath("//text()").getall()).strip()


_IN_REPLY = "ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message_reply ')]"


def _own_text(msg: Selector) -> Selector | None:
    """The message's own text block: a reply quotes its parent in the same class, before the text."""
    for block in msg.css("div.tgme_widget_message_text"):
        if "js-message_reply_text" in block.attrib.get("class", "") or block.xpath(_IN_REPLY):
            continue
        return block
    return None


def _duration(s: str) -> int | None:
    """The player's "M:SS" / "H:MM:SS" as seconds (yt-dlp's parse_duration); None when it is none."""
    if not re.fullmatch(r"\d+(?::\d+)*", s.strip()):
        return None
    seconds = parse_duration(s.strip())
    return int(seconds) if seconds is not None else None


@register
class TelegramChannel(Crawler):
    name = "telegram.v1"
    platform = "telegram"
    URL_PATTERNS = (r"^https?://(?:www\.)?(?:t|telegram)\.me/s/[A-Za-z0-9_]{3,64}/?(?:\?.*)?$",)
    TESTS = (
        "https://t.me/s/zouxian_notes",
        "https://t.me/s/ruta_norte?before=120",
        "https://telegram.me/s/some_channel/",
    )

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        sel = Selector(text=page.text())
        for msg in sel.css("div.tgme_widget_message[data-post]"):
            ref = msg.attrib.get("data-post", "")
            if "/" not in ref or "service_message" in msg.attrib.get("class", "").split():
                continue
            channel, msg_id = ref.rsplit("/", 1)
            video = msg.css("video.tgme_widget_message_video::attr(src), video::attr(src)").get() or ""
            # "Media is too big": a player without <video src>; the message URL still leads to the video
            has_player = bool(msg.css(".tgme_widget_message_video_player"))
            photo = msg.css("a.tgme_widget_message_photo_wrap::attr(style)").re_first(r"url\('([^']+)'\)") or ""
            text_sel = _own_text(msg)
            text = _text_of(text_sel) if text_sel is not None else ""
            fwd = msg.css("a.tgme_widget_message_forwarded_from_name::attr(href)").get() or ""
            # the link points at the original message (t.me/<channel>/<id>): the channel is the first segment
            fwd_name = urlsplit(fwd).path.strip("/").split("/")[0] if fwd else "".join(
                msg.css(".tgme_widget_message_forwarded_from_name ::text").getall()).strip()
            reply_to = msg.css("a.tgme_widget_message_reply::attr(href)").get() or ""
            # the channel publishes every message; a signed one also names its signer (an admin's name)
            signer = "".join(msg.css(".tgme_widget_message_from_author ::text").getall()).strip()
            # the page says "edited" as a bare word in the footer's meta, before the date ("edited &nbsp;<a …>")
            meta_words = " ".join(msg.css(".tgme_widget_message_meta").xpath("./text()").getall()).lower().split()
            edited = msg.css(".tgme_widget_message_edited")
            views = msg.css(".tgme_widget_message_views::text").get()
            posted = msg.css("a.tgme_widget_message_date time::attr(datetime)").get() or ""
            url = f"https://t.me/{channel}/{msg_id}"
            media_url = urljoin(page.url, video) if video else (url if has_player else "")
            # ids above 2^53 stay strings: JSON readers that hold numbers as doubles would change them
            extra = {"channel": channel, "message_id": int(msg_id) if msg_id.isdigit() and len(msg_id) <= 16 and int(msg_id) < 2**53 else msg_id,
                     "photo": photo, "has_video": bool(video) or has_player}
            if signer:
                extra["signer"] = signer
            if edited or "edited" in meta_words:
                extra["edited"] = True
                edited_at = _norm_date(edited.css("time::attr(datetime)").get() or "")  # a time, where one is shown
                if edited_at:
                    extra["edited_at"] = edited_at
            if views and not views.strip().isdigit():
                extra["views_shown"] = views.strip()  # "32.3K": the page rounds, the count is approximate
            if fwd:
                extra["forwarded_from_url"] = fwd
            if reply_to:
                extra["reply_to"] = urlsplit(reply_to).path.strip("/")
            seconds = _duration(msg.css(".message_video_duration::text").get() or "")
            if seconds is not None:
                extra["video_seconds"] = seconds
            yield Post(
                post_id=post_id_for("telegram", f"{channel}/{msg_id}"),
                platform="telegram",
                platform_id=f"{channel}/{msg_id}",
                url=url,
                source=page.source,
                caption=text,
                author_handle=channel,
                posted_at=_norm_date(posted),
                captured_at=page.captured_at,
                media_url=media_url,
                page_url=url,
                forwarded_from=fwd_name,
                discovered_via=page.url,
                views=parse_views(views) if views else None,
                extra_json=json.dumps(extra, ensure_ascii=False),
            )
            yield Follow(discussion_url(channel, msg_id), crawler=TelegramDiscussion.name, comments=True)
        before = sel.css("a.tme_messages_more::attr(data-before)").get()
        if before and before.isdigit():
            base = page.url.split("?", 1)[0]
            yield Follow(f"{base}?before={before}", crawler=self.name)


def discussion_url(channel: str, message_id: str) -> str:
    """The page of a channel message's replies in its linked discussion group (what Telegram's comments widget shows)."""
    return f"https://t.me/{channel}/{message_id}?embed=1&discussion=1&comments_limit=100"


def _comment_id(href: str) -> str:
    """The comment a link points at: `t.me/<channel>/<id>?comment=<n>` → n; '' for a link to the post itself."""
    return "".join((parse_qs(urlsplit(href).query).get("comment") or [""])[:1]).strip()


@register
class TelegramDiscussion(Crawler):
    name = "telegram_discussion.v1"
    platform = "telegram"
    URL_PATTERNS = (r"^https?://(?:www\.)?(?:t|telegram)\.me/(?!s/)[A-Za-z0-9_]{3,64}/\d+\?(?:[^#]*&)?discussion=1(?:[&#].*)?$",)
    TESTS = (
        "https://t.me/ruta_norte/1201?embed=1&discussion=1&comments_limit=100",
        "https://t.me/ruta_norte/1201?discussion=1",
    )

    def discover(self, page: Page) -> Iterator[Comment]:
        channel, msg_id = urlsplit(page.url).path.strip("/").split("/")[:2]
        post_id = post_id_for("telegram", f"{channel}/{msg_id}")
        sel = Selector(text=page.text())
        for msg in sel.css("div.tgme_widget_message[data-post-id]"):
            cid = msg.attrib.get("data-post-id", "").strip()
            text_sel = _own_text(msg)
            text = _text_of(text_sel) if text_sel is not None else ""
            if not (cid.isdigit() and text) or "service_message" in msg.attrib.get("class", "").split():
                continue  # a sticker, photo or service line without words is no text to search
            name = msg.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message_author_name ')]"
                             f"[not({_IN_REPLY})]")
            # the commenter: the t.me/<username> link, else the name shown (an account without a username)
            href = name.xpath("./@href").get() or ""
            shown = "".join(name.xpath(".//text()").getall()).strip()
            author = urlsplit(href).path.strip("/") if href else shown
            reply = msg.css("a.tgme_widget_message_reply::attr(href)").get() or ""
            yield Comment(post_id=post_id, comment_id=cid, text=text, parent=_comment_id(reply) if reply else "",
                          author=author, name=shown,
                          posted_at=_norm_date(msg.css("a.tgme_widget_message_date time::attr(datetime), "
                                                       "time::attr(datetime)").get() or ""))

