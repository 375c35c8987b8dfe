"""Comments under a post, as text units of kind `comment` (SPEC §4b): where route details are asked and answered.

In: yt-dlp's `comments` list (YouTube, TikTok: id, text, author, parent, timestamp, like_count) or a
Zeeschuimer TikTok comment capture (cid, text, aweme_id, reply_id, user, create_time, digg_count).  Out:
`Comment`s — one TextUnit each (`<post_id>:comment:<id>`) plus what the thread needs (parent, author,
time, likes) for the post's `extra.comments`. At most `crawl.max_comments` per post. The commenter's handle
is kept only in `extra.comments`, which every output pseudonymises like any account field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawlers.platforms import as_int, ascii_digits, iso_time
from routewatch.catalog import Catalog
from routewatch.records import TextUnit, post_id_for

MAX_TEXT = 20_000  # characters of one comment kept (a comment is no essay; a bigger one is cut)


@dataclass(frozen=True)
class Comment:
    post_id: str
    comment_id: str
    text: str
    parent: str = ""  # the comment it answers ("" for a top-level comment)
    author: str = ""
    posted_at: str = ""
    likes: int | None = None
    lang: str = ""
    name: str = ""  # the name shown beside the comment when `author` is the account's handle

    def unit(self) -> TextUnit:
        return TextUnit(unit_id=f"{self.post_id}:comment:{self.comment_id}", post_id=self.post_id, kind="comment",
                        text=self.text[:MAX_TEXT], lang=self.lang)

    def meta(self) -> dict[str, Any]:
        meta = {"parent": self.parent, "author": self.author, "posted_at": self.posted_at, "likes": self.likes}
        if self.name and self.name != self.author:
            meta["author_name"] = self.name  # an account field: every output pseudonymises it
        return meta


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
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    reply = ascii_digits(item.get("reply_id") or "0")
    return Comment(post_id=post_id_for("tiktok", vid), comment_id=cid, text=text.strip(), parent="" if reply in ("", "0") else reply,
                   author=str(user.get("unique_id") or user.get("uid") or ""), posted_at=iso_time(item.get("create_time")),
                   likes=as_int(item.get("digg_count")), lang=str(item.get("comment_language") or ""))


def store(catalog: Catalog, comments: list[Comment], limit: int) -> int:
    """Comment units and their thread data stored with their posts (which must exist); a post with new
    comments is extracted and indexed again. Returns how many were new. Within `limit` per post."""
    new = 0
    by_post: dict[str, list[Comment]] = {}
    for c in comments:
        by_post.setdefault(c.post_id, []).append(c)
    for pid, items in by_post.items():
        with catalog.tx():
            extra = catalog.post_extra(pid)
            if extra is None:
                continue
            thread = extra.get("comments") if isinstance(extra.get("comments"), dict) else {}
            added = 0
            for c in items:
                if c.comment_id not in thread and len(thread) >= limit:
                    continue  # the post's bound is reached
                if c.comment_id not in thread:
                    added += 1
                thread[c.comment_id] = c.meta()
                catalog.put_unit(c.unit())
            extra["comments"] = thread
            catalog.set_post_extra(pid, extra)
            if added:
                catalog.invalidate(pid, "extract", "index")
            new += added
    return new
