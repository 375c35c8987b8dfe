"""Saved searches and their alerts: which posts newly match a saved search, exactly once.

In: saved searches (name, query, filters, optional webhook) in the catalog, and the index they are run on.
Out: rows of `saved_alerts`, one per (saved search, post) ever matched; a check stores the new ones in one
transaction (a kill before it commits stores nothing, so the next check finds them again: no gap; the primary
key forbids a second row: no repeat). `seen_at` is set when `routewatch alerts` has shown them, `delivered_at`
when the webhook took them. A saved search added with `changes` also gets the week changes of changes.py
(onsets, kind "change") whose posts it matches. Posts are shown through the web's privacy Scrubber, as
search results are; counts in a change under 5 are shown as "<5".
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from index.base import Query, period_of
from routewatch.changes import post_facts, week_changes
from routewatch.core.catalog import Catalog, now_iso, stored_json
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.stage import failpoint
from routewatch.digest import c as shown
from routewatch.export import matching_ids
from routewatch.search_input import build_query
from routewatch.view import policy
from routewatch.web.queries import snippet
from routewatch.web.settings import web_settings

NAME = re.compile(r"\w[\w.-]{0,59}")
FILTERS = ("country", "route", "platform", "lang", "since", "until", "has_bribe", "min_cost", "max_cost", "currency")
WEBHOOK_BATCH = 100  # alerts per POST


@dataclass(frozen=True, slots=True)
class SavedSearch:
    name: str
    query: str
    filters: dict[str, Any]
    webhook: str
    created_at: str
    checked_at: str | None
    changes: bool = False

    def to_query(self) -> Query:
        """The saved words and filters, checked again as `search` checks them; newest first."""
        f = {k: v for k, v in self.filters.items() if k in FILTERS}
        return build_query(self.query, **f, sort="date")

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "query": self.query, "filters": self.filters, "webhook": bool(self.webhook),
                "changes": self.changes, "created_at": self.created_at, "checked_at": self.checked_at}


def check_name(name: str) -> str:
    n = (name or "").strip()
    if not NAME.fullmatch(n) or ".." in n:
        raise RouteWatchError(Code.E930, f"saved search name {n[:70]!r} must be 1-60 letters, digits, _ . - "
                                         "(it is part of the feed URL /alerts/NAME.atom)")
    return n


def check_webhook(url: str) -> str:
    u = (url or "").strip()
    if not u:
        return ""
    parts = urlsplit(u)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RouteWatchError(Code.E933, f"--webhook expects an http(s) URL with a host, got {u[:80]!r}")
    return u


def clean_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Only the filters that are set (a false --has-bribe is not a filter)."""
    return {k: v for k, v in filters.items() if k in FILTERS and v not in (None, "", False)}


def _row(r: Any) -> SavedSearch:
    return SavedSearch(name=r["name"], query=r["query"],
                       filters=stored_json(r["filters_json"], {}, where=f"saved_searches.filters_json of {r['name']}"),
                       webhook=r["webhook"], created_at=r["created_at"], checked_at=r["checked_at"],
                       changes=bool(r["changes"]))


def saved(catalog: Catalog, name: str | None = None) -> list[SavedSearch]:
    """Every saved search by name, or the one named (E932 when there is none)."""
    rows = catalog.saved_search_rows(name)
    if name is not None and not rows:
        raise RouteWatchError(Code.E932, f"no saved search {name!r}: see `routewatch saved list`")
    return [_row(r) for r in rows]


def add(catalog: Catalog, index: Any, name: str, query: str, filters: dict[str, Any], webhook: str = "",
        changes: bool = False) -> tuple[SavedSearch, int]:
    """Save a search. The posts it matches now are its baseline (never alerted): alerts are what comes
    after. With `changes`, the week changes among its new posts are alerted too. Returns the saved search
    and the size of its baseline."""
    name = check_name(name)
    f = clean_filters(filters)
    s = SavedSearch(name=name, query=query or "", filters=f, webhook=check_webhook(webhook), created_at=now_iso(),
                    checked_at=None, changes=changes)
    q = s.to_query()  # E903 / E908 / E505-E508 before anything is stored
    if catalog.saved_search_rows(name):
        raise RouteWatchError(Code.E931, f"a saved search {name!r} exists: `routewatch saved rm {name}` first")
    ids, _ = matching_ids(index, q)
    now = now_iso()
    catalog.add_saved_search({"name": name, "query": s.query, "filters_json": json.dumps(f, ensure_ascii=False),
                              "webhook": s.webhook, "changes": int(changes), "created_at": s.created_at,
                              "checked_at": now}, ids, now)
    return saved(catalog, name)[0], len(ids)


def remove(catalog: Catalog, name: str) -> None:
    saved(catalog, name)  # E932
    catalog.remove_saved_search(name)


def check(catalog: Catalog, index: Any, names: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Run every saved search (or those named) and store the posts it matches for the first time; returns
    them per name, newest first. Each saved search is stored in its own transaction, with its checked time."""
    todo = saved(catalog) if names is None else [s for n in names for s in saved(catalog, n)]
    out: dict[str, list[str]] = {}
    facts: list[Any] = []  # changes.post_facts of the catalog, read once when a saved search needs it
    for i, s in enumerate(todo):
        ids, _ = matching_ids(index, s.to_query())
        known = catalog.alerted_posts(s.name)
        found = [c for c in _changes_among(catalog, [p for p in ids if p not in known], set(ids), facts)] \
            if s.changes else []
        failpoint("alerts", i, "before")  # computed, nothing stored yet
        new = catalog.record_alerts(s.name, ids, found, now_iso())
        failpoint("alerts", i, "after")
        out[s.name] = new
    return out


def _changes_among(catalog: Catalog, new: list[str], matched: set[str], facts: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The onsets of changes (changes.week_changes) in the weeks of the `new` posts whose posts include one
    the saved search matches, as (key "week|feature|direction", detail); counts under 5 shown as "<5"."""
    if not new:
        return []
    weeks = sorted({period_of(t, "week") for t in catalog.posted_at_of(new)})
    if weeks and not facts:
        facts.extend(post_facts(catalog))
    out = []
    for week in weeks:
        for ch in week_changes(catalog, week, facts)["changes"]:
            posts = [p["post_id"] for p in ch["posts"] if p["post_id"] in matched]
            if not ch["onset"] or not posts:
                continue
            out.append((f"{week}|{ch['feature']}|{ch['direction']}", {
                "week": week, "feature": ch["feature"], "what": ch["kind"], "label": ch["label"],
                "direction": ch["direction"], "p": ch["p"], "count": shown(ch["count"]), "of": shown(ch["n"]),
                "expected": round(ch["expected"], 1), "posts": posts[:5]}))
    return out


def pending(catalog: Catalog, name: str | None = None, *, column: str = "seen_at") -> list[dict[str, Any]]:
    """Alerts not yet shown (`seen_at`) or not yet delivered (`delivered_at`), oldest found first."""
    return catalog.alerts_waiting(column, name)


def recent(catalog: Catalog, name: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest alerts of one saved search, shown or not (for its feed), newest found first."""
    return catalog.recent_alerts(name, limit)


def mark(catalog: Catalog, alerts: list[dict[str, Any]], column: str = "seen_at") -> int:
    """Mark the alerts shown (or delivered) in one transaction; returns how many changed."""
    return catalog.mark_alerts(alerts, column, now_iso())


# ---- how an alert is shown ---------------------------------------------------------------------------------
def scrubber_for(settings: Any, catalog: Catalog) -> Any:
    """The privacy Scrubber the web uses for search results, for the CLI."""
    return policy(settings, catalog, max_chars=web_settings(settings).max_text_chars)


def view(catalog: Catalog, scrub: Any, alert: dict[str, Any]) -> dict[str, Any]:
    """One alert as it may be shown: the post's public fields and a snippet of its caption (or first text)."""
    base = {"saved_search": alert["name"], "kind": alert["kind"], "post_id": alert["post_id"],
            "found_at": alert["found_at"]}
    if alert["kind"] == "change":
        d = stored_json(alert.get("detail_json"), {}, where=f"saved_alerts.detail_json of {alert['name']}")
        return {**base, "post_id": (d.get("posts") or [None])[0], "change": {**d, "key": alert["post_id"]},
                "url": None, "platform": "", "posted_at": "", "author": "", "route": [], "countries": [],
                "title": f"{d.get('what', '')} {scrub.clean(str(d.get('label', '')))} {d.get('direction', '')} "
                         f"in {d.get('week', '')}",
                "snippet": f"{d.get('count')} of {d.get('of')} relevant posts that week (expected "
                           f"{d.get('expected')} from the 8 weeks before)"}
    post = catalog.get_post(alert["post_id"])
    if post is None:
        return {**base, "url": None, "platform": "", "posted_at": "", "author": "", "title": "", "snippet": "",
                "route": [], "countries": []}
    text = post.caption
    if not text.strip():
        units = catalog.units(post.post_id)  # by kind: caption, comment, onscreen, subtitle, transcript
        text = units[0].text if units else ""
    extra = stored_json(post.extra_json, {}, where=f"posts.extra_json of {alert['post_id']}")
    gold = catalog.get_extraction_gold(alert["post_id"]) or {}
    return {**base, "url": scrub.url_text(post.url), "platform": post.platform, "posted_at": post.posted_at,
            "author": scrub.handle(post.author_handle),
            "title": scrub.clean(extra["title"]) if isinstance(extra.get("title"), str) else "",
            "snippet": snippet(scrub.public(text), None)["text"],
            "route": gold.get("route", []), "countries": gold.get("countries", [])}


# ---- webhook -----------------------------------------------------------------------------------------------
def webhook_options(settings: Any) -> dict[str, Any]:
    """post_json's tries, time-out and wait from the `[alerts]` settings (routewatch.core.alert_settings)."""
    a = settings.alerts
    return {"attempts": a.webhook_attempts, "timeout": a.webhook_timeout, "wait": a.webhook_wait}


def post_json(url: str, body: dict[str, Any], *, attempts: int = 4, timeout: float = 10.0, wait: float = 0.5) -> int:
    """POST `body` as JSON, retried (tenacity) on a connection error, a time-out or a 5xx / 429 answer;
    returns the final HTTP status. E934 when every attempt failed."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    data = json.dumps(body, ensure_ascii=False).encode("utf-8")

    class _RetryableError(Exception):
        pass

    def once() -> int:
        req = urllib.request.Request(check_webhook(url), data=data, method="POST",  # noqa: S310 - http(s) checked
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "RouteWatch alerts"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) checked above
                return int(resp.status)
        except urllib.error.HTTPError as e:
            if e.code >= 500 or e.code == 429:
                raise _RetryableError(f"HTTP {e.code}") from e
            raise RouteWatchError(Code.E934, f"webhook {urlsplit(url).netloc} answered HTTP {e.code}") from e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise _RetryableError(str(getattr(e, "reason", e))) from e

    try:
        for attempt in Retrying(stop=stop_after_attempt(attempts), retry=retry_if_exception_type(_RetryableError),
                                wait=wait_exponential(multiplier=wait, max=8), reraise=True):
            with attempt:
                return once()
    except _RetryableError as e:
        raise RouteWatchError(Code.E934, f"webhook {urlsplit(url).netloc} failed {attempts} times: {e}") from e
    raise AssertionError("unreachable")  # pragma: no cover - Retrying returns or raises


def deliver(catalog: Catalog, scrub: Any, **kw: Any) -> dict[str, Any]:
    """POST the undelivered alerts of every saved search with a webhook (batches of WEBHOOK_BATCH), marking
    each batch delivered after a 2xx answer. Returns {"delivered": n, "failed": {name: "E934 …"}}."""
    done, failed = 0, {}
    for s in saved(catalog):
        if not s.webhook:
            continue
        todo = pending(catalog, s.name, column="delivered_at")
        for start in range(0, len(todo), WEBHOOK_BATCH):
            batch = todo[start:start + WEBHOOK_BATCH]
            body = {"saved_search": s.public(), "alerts": [view(catalog, scrub, a) for a in batch]}
            try:
                post_json(s.webhook, body, **kw)
            except RouteWatchError as e:
                failed[s.name] = f"{e.code.value} {e.reason}"
                break
            done += mark(catalog, batch, "delivered_at")
    return {"delivered": done, "failed": failed}
