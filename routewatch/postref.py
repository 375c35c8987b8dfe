"""Which post a person means: a full post id, an unambiguous id prefix, or the post's URL.

In: the text given to `evidence`, `trace`, the post page or the evidence API, and a (read) `Catalog`.
Out: the full post id; E907 (listing the candidates) when a prefix fits several posts, PostNotFound
(E903, as every unknown CLI input; the web answers it with 404 E904) when nothing fits. Read-only, through
the catalog's `has_post`, `post_id_by_url` and `post_ids_with_prefix`.
"""

from __future__ import annotations

import re

from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, RouteWatchError

MIN_PREFIX = 4  # shorter prefixes are almost always ambiguous
_ID_LIKE = re.compile(r"[a-z0-9_]+-[0-9a-f]{1,16}|[a-z0-9_]+-?", re.IGNORECASE)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def looks_like_ref(text: str) -> bool:
    """True when `text` is shaped like a post id (or its prefix, `telegram-58d7`) or a URL, so a caller
    that also takes free text (trace) may try it as a post first."""
    t = (text or "").strip()
    return bool(_URL.fullmatch(t) or re.fullmatch(r"[a-z0-9_]+-[0-9a-f]{4,16}", t, re.IGNORECASE))


def find_post(catalog: Catalog, ref: str) -> str | None:
    """The post id `ref` names, None when none; E907 when an id prefix names more than one."""
    ref = re.sub(r"^(https?):/(?!/)", r"\1://", (ref or "").strip())  # a proxy may have merged the // of a URL path
    if not ref:
        return None
    if catalog.has_post(ref):
        return ref
    if _URL.fullmatch(ref):
        for u in dict.fromkeys((ref, ref.rstrip("/"), ref.rstrip("/") + "/", ref.replace("http://", "https://", 1))):
            pid = catalog.post_id_by_url(u)
            if pid:
                return pid
        return None
    if len(ref) < MIN_PREFIX or not _ID_LIKE.fullmatch(ref):
        return None
    rows = catalog.post_ids_with_prefix(ref, limit=11)
    if len(rows) > 1:
        shown = ", ".join(rows[:10]) + (", …" if len(rows) > 10 else "")
        raise RouteWatchError(Code.E907, f"post id prefix {ref!r} matches {'more than 10' if len(rows) > 10 else len(rows)} "
                                         f"posts: {shown}; give more characters")
    return rows[0] if rows else None


class PostNotFound(RouteWatchError):  # noqa: N818 - a RouteWatchError, named for what it says
    """No post has this id, id prefix or URL: E903 on the command line (bad input); the web answers 404 E904."""

    def __init__(self, ref: str):
        super().__init__(Code.E903, f"no post {ref.strip()[:200]!r} in the catalog: give a post id, an id prefix "
                                    "of 4 or more characters, or the post's URL (see `routewatch search`)")


def resolve_post(catalog: Catalog, ref: str) -> str:
    """The post id `ref` names; PostNotFound (E903) when none, E907 when an id prefix names several."""
    pid = find_post(catalog, ref)
    if pid is None:
        raise PostNotFound(ref)
    return pid
