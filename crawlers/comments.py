"""Comments under a post, as text units of kind `comment` (SPEC §4b): where route details are asked and answered.

In: yt-dlp's `comments` list (YouTube, TikTok: id, text, author, parent, timestamp, like_count) or a
Zeeschuimer TikTok comment capture (cid, text, aweme_id, reply_id, user, create_time, digg_count).  Out:
`Comment`s (crawlers/base.py) — one TextUnit each (`<post_id>:comment:<id>`) plus what the thread needs
(parent, author, time, likes) for the post's `extra.comments`, stored by crawlers/store.py. At most
`crawl.max_comments` per post. The commenter's handle
is kept only in `extra.comments`, which every output pseudonymises like any account field.
"""

from __future__ import annotations

from typing import Any

from yt_dlp.utils import traverse_obj

from crawlers.base import Comment
from crawlers.values import as_int, ascii_digits, iso_time
from routewatch.core.records import post_id_for


def from_ytdlp(post_id: str, info: dict[str, Any], limit: int) -> list[Comment]:
    """The comments yt-dlp extracted (`getcomments`), top-level and replies, in its order, at most `limit`."""
    out: list[Comment] = []
    for c in info.get("comments") or []:
        if len(out) >= limit:
            break
        if not isinstance(c, dict) or not str(c.get("text") or "").strip() or not c.get("id"):
            continue
        parent = str(c.get("parent") or "")
        out.append(Comment(post_id=post_id, comment_id=str(c["id"]), text=str(c["text"]).strip(),
                           parent="" if parent in ("", "root") else parent,
                           author=str(c.get("author_id") or c.get("author") or ""),
                           posted_at=iso_time(c.get("timestamp")), likes=as_int(c.get("like_count"))))
    return out


def video_id(item: dict[str, Any]) -> str:
    return ascii_digits(item.get("aweme_id") or "")


def from_zeeschuimer(item: dict[str, Any]) -> Comment | None:
    """A Zeeschuimer TikTok comment capture → Comment (None without a comment id, video id or text)."""
    cid, vid, text = ascii_digits(item.get("cid") or ""), ascii_digits(item.get("aweme_id") or ""), item.get("text")
    if not (cid.isdigit() and vid.isdigit() and isinstance(text, str) and text.strip()):
        return None
    reply = ascii_digits(item.get("reply_id") or "0")
    return Comment(post_id=post_id_for("tiktok", vid), comment_id=cid, text=text.strip(), parent="" if reply in ("", "0") else reply,
                   author=str(traverse_obj(item, ("user", "unique_id")) or traverse_obj(item, ("user", "uid")) or ""), posted_at=iso_time(item.get("create_time")),
                   likes=as_int(item.get("digg_count")), lang=str(item.get("comment_language") or ""))
