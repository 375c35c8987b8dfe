"""What a person types into a search or trends form (CLI options, API parameters, web fields) → a Query.

In: strings as typed: a query, a country as code or name ("Panamá", "巴拿马"), a route ("EC>CO>PA" or
names), language, dates, a cost range and its currency, paging and sort, the facts' minimum confidence,
relevant posts only or every post, and the recheck state.  Out: an `index.base.Query`
whose every value is valid, or a RouteWatchError with a stable code (E903 bad value, E908 unknown
country, E505-E508 query syntax). One function, so the CLI, the API and the pages refuse the same inputs.
"""

from __future__ import annotations

import re
from typing import Any

from index.base import STATES, UNCHECKED, Query, check_paging, parse_date
from index.query import parse as parse_query_syntax
from nlp.countries import resolve_country, resolve_currency, resolve_language, resolve_route
from routewatch.core.errors import Code, RouteWatchError

_NOT_A_NAME = re.compile(r"[^\w\s.'’()\-]")  # a country is letters (any script), spaces and . ' - ( )


def country_of(value: str | None, what: str = "country") -> str | None:
    v = (value or "").strip()
    if not v:
        return None
    if _NOT_A_NAME.search(v):
        raise RouteWatchError(Code.E903, f"{what} expects an ISO code like PA or a country name, got {v[:40]!r}")
    return resolve_country(v, what=what)


def route_of(value: str | None) -> tuple[str, ...]:
    v = (value or "").strip()
    if not v:
        return ()
    for step in v.replace("＞", ">").split(">"):
        if step.strip() and _NOT_A_NAME.search(step):
            raise RouteWatchError(Code.E903, f"route step {step.strip()[:40]!r} is not a country code or name "
                                             "(e.g. EC>CO>PA)")
    return resolve_route(v)


def build_query(text: str = "", *, country: str | None = None, route: str | None = None,
                platform: str | None = None, lang: str | None = None, since: str | None = None,
                until: str | None = None, has_bribe: bool = False, min_cost: float | None = None,
                max_cost: float | None = None, currency: str | None = None, limit: int = 20, offset: int = 0,
                sort: str = "relevance", names: dict[str, str] | None = None,
                min_confidence: float | None = None, relevant: bool | None = None,
                state: str | None = None) -> Query:
    """`names` maps a field to how the caller's user spells it ("--min-cost" on the CLI, "min_cost" in the
    API), so a message names the option the person typed."""
    n = {"min_cost": "--min-cost", "max_cost": "--max-cost", "currency": "--currency", "since": "--since",
         "until": "--until", "min_confidence": "--min-confidence", "state": "--state", **(names or {})}
    min_confidence = check_confidence(min_confidence, n["min_confidence"])
    parse_query_syntax(text or "")  # E505-E508 before anything runs
    if (min_cost is not None or max_cost is not None) and not (currency or "").strip():
        raise RouteWatchError(Code.E903, f"{n['min_cost']}/{n['max_cost']} need {n['currency']} (e.g. USD)")
    for v, key in ((min_cost, "min_cost"), (max_cost, "max_cost")):
        if v is not None and (v != v or v in (float("inf"), float("-inf")) or v < 0):
            raise RouteWatchError(Code.E903, f"{n[key]} expects a number of 0 or more, got {v}")
    if min_cost is not None and max_cost is not None and min_cost > max_cost:
        raise RouteWatchError(Code.E903, f"{n['min_cost']} {min_cost:g} is more than {n['max_cost']} {max_cost:g}: "
                                         "nothing can match")
    since_d, until_d = parse_date(since, n["since"]), parse_date(until, n["until"])
    if since_d and until_d and since_d > until_d:
        raise RouteWatchError(Code.E903, f"{n['since']} {since_d} is after {n['until']} {until_d}: nothing can match")
    q = Query(text=text or "", country=country_of(country), route=route_of(route),
              platform=(platform or "").strip().lower() or None,
              lang=resolve_language(lang) if (lang or "").strip() else None,
              since=since_d, until=until_d, has_bribe=bool(has_bribe), min_cost=min_cost, max_cost=max_cost,
              currency=resolve_currency(currency) if (currency or "").strip() else None,
              limit=int(limit), offset=int(offset), sort=(sort or "relevance").strip().lower(),
              min_confidence=None if min_confidence is None else float(min_confidence), relevant=relevant,
              state=state_of(state, n["state"]))
    check_paging(q)
    return q


def check_confidence(value: float | None, flag: str = "--min-confidence") -> float | None:
    """A minimum confidence as given: None (the default) or a number from 0 to 1 (E903 otherwise)."""
    if value is not None and not 0.0 <= value <= 1.0:  # NaN fails this too
        raise RouteWatchError(Code.E903, f"{flag} expects a confidence from 0 to 1 (e.g. 0.7), got {value}")
    return None if value is None else float(value)


def state_of(value: str | None, flag: str = "--state") -> str | None:
    """A recheck state as typed ("deleted", "geo-blocked", "Account gone", "unchecked") → its stored name."""
    v = re.sub(r"[\s-]+", "_", (value or "").strip().lower())
    if not v:
        return None
    if v not in (*STATES, UNCHECKED):
        raise RouteWatchError(Code.E903, f"{flag} must be one of {', '.join((*STATES, UNCHECKED))}, "
                                         f"got {(value or '')[:40]!r}")
    return v


def describe_total(shown: int, total: int, relation: str, offset: int = 0) -> str:
    """"20 of 143 (exact)", "21-40 of at least 1000" style line used by the CLI and the page."""
    exact = "exact" if relation == "eq" else "at least"
    if shown == 0:
        return f"0 of {total} ({exact})"
    first = offset + 1
    span = f"{first}-{offset + shown}" if offset else str(shown)
    return f"{span} of {total} ({exact})"


def public_query_args(q: Query) -> dict[str, Any]:
    """The resolved filters, for echoing back (codes, not what was typed)."""
    return {"country": q.country, "route": ">".join(q.route) or None, "platform": q.platform, "lang": q.lang,
            "since": q.since, "until": q.until, "has_bribe": q.has_bribe or None, "min_cost": q.min_cost,
            "max_cost": q.max_cost, "currency": q.currency, "offset": q.offset, "limit": q.limit, "sort": q.sort,
            "min_confidence": q.min_confidence, "relevant": q.relevant, "state": q.state}
