"""`elasticsearch.v1`: one document per post (id = post id, text units nested with their segments).

In: IndexDocs.  Out: the same hits and trend rows as `sqlite.v1` (the contract). Writes go to a write
alias; `clear()` fills a fresh index that the writer's `close()` swaps in behind the read alias.
Never raises out of `upsert` for a bad document or an outage: E504 (rejected) / E503 (no node) rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import product
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk

from index import query as query_lang
from index.base import (
    DEFAULT_MIN_CONFIDENCE,
    STATES,
    UNCHECKED,
    Index,
    IndexDoc,
    Query,
    SearchHits,
    UpsertResult,
    check_paging,
    doc_facts,
    legs,
    period_of,
    threshold,
)
from index.settings import ELASTICSEARCH, IndexSettings

# The sqlite backend's text helpers: the same snippet and span rules make hits equal across backends.
from index.sqlite_fts import _first_span, make_snippet, normalise
from index.terms import trend_terms
from routewatch.core.errors import Code, NotConfigured, RouteWatchError
from routewatch.core.records import SearchHit, Segment, TextUnit
from routewatch.core.registry import indexes
from routewatch.core.text import fold, to_simplified

MAPPING_VERSION = "elasticsearch.v1"

BULK_CHUNK = 200
BULK_RETRIES = 5  # on 429 (queue full), with exponential back-off
PERIODS = ("day", "week", "month")
_ES_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?")

_TEXT_WITH_KEYWORD = {"type": "text", "analyzer": "standard",
                      "fields": {"raw": {"type": "keyword", "ignore_above": 256}}}

# Explicit mappings (no dynamic fields: an unexpected field rejects the document, it is not guessed).
# `norm` is the search form of a unit (see `fold`); the integ-test distribution has no analysis-common
# (no cjk / asciifolding), so folding happens here and `standard` gives one token per Chinese character.
MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"mapping": MAPPING_VERSION},
    "_source": {"excludes": ["units.norm"]},
    "properties": {
        "post_id": {"type": "keyword"},
        "platform": {"type": "keyword"},
        "url": {"type": "keyword", "ignore_above": 2048},
        "posted_at": {"type": "date"},
        "captured_at": {"type": "date"},
        "lang": {"type": "keyword"},
        "source": {"type": "keyword"},
        "relevant": {"type": "boolean"},
        "countries": {"type": "keyword"},
        "route": {"type": "keyword"},
        "route_path": {"type": "keyword"},  # ">EC>CO>PA>": ordered-subsequence filter by wildcard
        "legs": {"type": "keyword"},
        "has_bribe": {"type": "boolean"},
        "places": _TEXT_WITH_KEYWORD,
        "costs": {"type": "nested", "properties": {
            "amount": {"type": "double"}, "currency": {"type": "keyword"}, "kind": {"type": "keyword"},
            "confidence": {"type": "double"}}},
        # the fields above hold the facts at the index's default threshold; these every fact, each with the
        # thresholds m at which it holds (lo < m <= hi): countries, legs, bribes (as sqlite.v1's idx_facts)
        "route_full": {"type": "keyword"},
        "facts": {"type": "nested", "properties": {
            "field": {"type": "keyword"}, "value": {"type": "keyword"}, "lo": {"type": "double"},
            "hi": {"type": "double"}}},
        "state": {"type": "keyword"},
        "period": {"properties": {p: {"type": "keyword"} for p in PERIODS}},
        "units": {"type": "nested", "properties": {
            "unit_id": {"type": "keyword"},
            "kind": {"type": "keyword"},
            "lang": {"type": "keyword"},
            "text": _TEXT_WITH_KEYWORD,
            "norm": {"type": "text", "analyzer": "standard"},
            "segments": {"type": "nested", "properties": {
                "start": {"type": "double"}, "end": {"type": "double"}, "text": {"type": "text"}}},
        }},
    },
}


def search_form(text: str) -> str:
    """The search form of a text or query term: Simplified Chinese, NFKC, accents removed, lower case,
    everything but letters and digits turned into spaces (as SQLite's unicode61 tokenizer splits)."""
    return "".join(c if c.isalnum() else " " for c in fold(text))


def _es_date(value: str) -> str | None:
    """A date Elasticsearch accepts: the original string when it is strict ISO, else normalised."""
    if not value:
        return None
    if _ES_DATE.fullmatch(value):
        return value
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))  # ValueError: not a date (caller rejects)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).isoformat()


def to_source(d: IndexDoc, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> dict[str, Any]:
    """IndexDoc → Elasticsearch document (raises ValueError when a field cannot be indexed)."""
    units = [u for u in d.units if u.text.strip()]  # as sqlite.v1: empty units are not searchable
    facts = doc_facts(d)
    v = facts.at(min_confidence)
    return {
        "post_id": d.post_id, "platform": d.platform, "url": d.url,
        "posted_at": _es_date(d.posted_at), "captured_at": _es_date(d.captured_at),
        "lang": d.lang, "source": d.source, "relevant": bool(d.relevant),
        "countries": list(v.countries), "route": list(v.route),
        "route_path": ">" + "".join(f"{c}>" for c in v.route),
        "legs": sorted(set(legs(v.route))), "has_bribe": v.has_bribe, "places": list(v.places),
        "costs": [{"amount": float(a), "currency": c, "kind": k, "confidence": float(conf)}
                  for a, c, k, conf in facts.costs],
        "route_full": ">" + "".join(f"{c}>" for c in facts.route),
        "facts": ([{"field": "country", "value": iso, "lo": -1.0, "hi": float(c)} for iso, c in facts.countries]
                  + [{"field": "leg", "value": leg, "lo": float(lo), "hi": float(hi)} for leg, lo, hi in facts.leg_spans()]
                  + [{"field": "bribe", "value": "", "lo": -1.0, "hi": float(c)} for c in facts.bribes]),
        "state": d.state if d.state in STATES else "",
        "period": {p: period_of(d.posted_at, p) for p in PERIODS},
        "units": [{"unit_id": u.unit_id, "kind": u.kind, "lang": u.lang, "text": u.text, "norm": search_form(u.text),
                   "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in u.segments]}
                  for u in units],
    }


def _unit_clause(node: Any) -> dict[str, Any]:
    """A query tree without NOT (index.query) as a query on one nested text unit."""
    if isinstance(node, query_lang.Term):
        folded = " ".join(search_form(node.text).split())
        return {"match_phrase": {"units.norm": folded}} if folded else {"match_none": {}}
    parts = [_unit_clause(p) for p in node.parts]
    if isinstance(node, query_lang.And):
        return {"bool": {"must": parts}}
    return {"bool": {"should": parts, "minimum_should_match": 1}}


def _post_query(node: Any, inner_hits: dict[str, Any] | None = None) -> dict[str, Any]:
    """A post has a text unit that matches the query tree, NOT x meaning "no text unit of the post matches
    x" (sqlite.v1's rule). A nested query cannot look at the other units of its post, so each outermost
    NOT group is decided at the post level: one clause per assignment of true / false to the groups
    (index.query.MAX_NOTS bounds them), the rest of the tree with those constants folded in."""
    groups = query_lang.not_groups(node)
    branches: list[dict[str, Any]] = []
    for i, values in enumerate(product((False, True), repeat=len(groups))):
        rest = query_lang.assign(node, dict(zip(groups, values, strict=True)))
        if rest == query_lang.FALSE:
            continue
        unit = {"match_all": {}} if rest == query_lang.TRUE else _unit_clause(rest)
        nested: dict[str, Any] = {"path": "units", "score_mode": "max", "query": unit}
        if inner_hits is not None:
            nested["inner_hits"] = {**inner_hits, "name": f"hit{i}"}
        must: list[dict[str, Any]] = [{"nested": nested}]
        must_not: list[dict[str, Any]] = []
        for g, has in zip(groups, values, strict=True):
            (must if has else must_not).append(_post_query(g))
        branches.append({"bool": {"must": must, "must_not": must_not}} if len(must) > 1 or must_not else must[0])
    if not branches:
        return {"match_none": {}}
    return branches[0] if len(branches) == 1 else {"bool": {"should": branches, "minimum_should_match": 1}}


def _safe_url(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _reason(info: dict[str, Any]) -> str:
    err = info.get("error")
    if isinstance(err, dict):
        err = f"{err.get('type', 'error')}: {err.get('reason', '')}"
    return f"HTTP {info.get('status', '?')} {err or 'rejected'}"[:500]


TOTAL_CAP = 10_000  # Elasticsearch's default track_total_hits: exact up to here, then a lower bound


def _total(res: Any) -> dict[str, Any]:
    """Elasticsearch's hit total (counted up to TOTAL_CAP, then a lower bound) as SearchHits keywords."""
    t = res["hits"].get("total") or {}
    return {"total": int(t.get("value", 0)), "relation": t.get("relation", "eq")}


class ElasticIndex(Index):
    name = ELASTICSEARCH

    def __init__(self, settings: IndexSettings, min_confidence: float = DEFAULT_MIN_CONFIDENCE):
        self.min_confidence = float(min_confidence)  # the threshold of the flat fact fields
        if not settings.es_url:
            raise NotConfigured("Elasticsearch URL not set: set index.es_url or ROUTEWATCH_ES_URL "
                                "(e.g. http://127.0.0.1:9200)", Code.E902)
        self.url = _safe_url(settings.es_url)
        self.alias = settings.es_index
        self.write_alias = f"{self.alias}-write"
        self.es = Elasticsearch(settings.es_url, request_timeout=30, max_retries=1, retry_on_timeout=False)
        try:
            health = self.es.options(request_timeout=10).cluster.health()
        except (TransportError, ApiError) as e:
            self.es.close()
            raise NotConfigured(f"Elasticsearch not reachable at {self.url} ({type(e).__name__}): start it "
                                "(`docker compose up -d elasticsearch` or `make es-up`) or fix index.es_url / "
                                "ROUTEWATCH_ES_URL", Code.E503) from e
        if health.get("status") == "red":
            self.es.close()
            raise NotConfigured(f"Elasticsearch at {self.url} reports cluster health red", Code.E503)
        self._touched = False  # did this instance write? (only a writer publishes a rebuild)
        self._closed = False
        try:
            self._ensure_layout()
        except (TransportError, ApiError) as e:
            self.es.close()
            raise NotConfigured(f"Elasticsearch at {self.url} refused the index set-up: {e}", Code.E503) from e

    # ---- layout: template, generation indices, read and write aliases --------------------------------
    def _ensure_layout(self) -> None:
        self.es.indices.put_index_template(
            name=f"{self.alias}-template", index_patterns=[f"{self.alias}-0*"], priority=200,
            template={"settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}, "mappings": MAPPINGS},
            meta={"managed_by": "routewatch", "mapping": MAPPING_VERSION},
        )
        if self.es.indices.exists(index=self.alias) and not self.es.indices.exists_alias(name=self.alias):
            raise NotConfigured(f"{self.alias!r} on {self.url} is an index, not RouteWatch's alias: choose another "
                                "index.es_index or delete that index", Code.E902)
        read, write = self._alias_target(self.alias), self._alias_target(self.write_alias)
        if read is None and write is None:
            first = self._new_index_name()
            self.es.indices.create(index=first, aliases={self.alias: {}, self.write_alias: {}})
        elif write is None:
            self.es.indices.put_alias(index=read, name=self.write_alias)
        elif read is None:
            self.es.indices.put_alias(index=write, name=self.alias)
        # an index made by an earlier RouteWatch gains the fields added since (facts, state); its documents
        # get them on the next `routewatch index --rebuild`
        for target in {t for t in (read, write) if t}:
            self.es.indices.put_mapping(index=target, properties=MAPPINGS["properties"])

    def _alias_target(self, name: str) -> str | None:
        try:
            resp = self.es.indices.get_alias(name=name)
        except ApiError as e:
            if e.status_code == 404:
                return None
            raise
        names = sorted(resp.body)
        return names[-1] if names else None

    def _new_index_name(self) -> str:
        try:
            existing = sorted(self.es.indices.get(index=f"{self.alias}-0*", expand_wildcards="all").body)
        except ApiError as e:
            if e.status_code != 404:
                raise
            existing = []
        gen = 1 + max((int(n.rsplit("-", 1)[1]) for n in existing if n.rsplit("-", 1)[1].isdigit()), default=0)
        return f"{self.alias}-{gen:06d}"

    # ---- writing ---------------------------------------------------------------------------------------
    def upsert(self, docs: Iterable[IndexDoc]) -> UpsertResult:
        self._touched = True
        failed: list[tuple[str, str, str]] = []
        in_flight: Counter[str] = Counter()  # sent, not yet answered
        src = iter(docs)

        def actions() -> Iterator[dict[str, Any]]:
            for d in src:
                try:
                    body = to_source(d, self.min_confidence)
                except (ValueError, TypeError) as e:
                    failed.append((d.post_id, Code.E504.value, f"document not indexable: {e}"))
                    continue
                in_flight[d.post_id] += 1
                yield {"_op_type": "index", "_index": self.write_alias, "_id": d.post_id, "_source": body}

        indexed = 0
        try:
            for ok, item in streaming_bulk(
                self.es.options(request_timeout=120), actions(), chunk_size=BULK_CHUNK, max_chunk_bytes=10 << 20,
                max_retries=BULK_RETRIES, initial_backoff=0.5, max_backoff=30,
                raise_on_error=False, raise_on_exception=False,
            ):
                info = next(iter(item.values()))
                pid = str(info.get("_id", ""))
                in_flight[pid] -= 1
                if ok:
                    indexed += 1
                elif info.get("status") in (502, 503, 504):  # answered, but cannot write now (e.g. closing)
                    failed.append((pid, Code.E503.value, _reason(info)))
                else:  # the node refused this document: dead-lettered
                    failed.append((pid, Code.E504.value, _reason(info)))
        except TransportError as e:
            # No node to answer (stopped, unreachable, timed out): whatever was sent or is still to come is
            # returned as E503 so the catalog keeps it pending and a later run retries it.
            why = f"Elasticsearch unavailable at {self.url}: {type(e).__name__}"
            failed += [(pid, Code.E503.value, why) for pid, n in in_flight.items() for _ in range(n)]
            failed += [(d.post_id, Code.E503.value, why) for d in src]
        try:
            self.es.indices.refresh(index=self.write_alias)
        except (TransportError, ApiError):
            pass  # visible after the next periodic refresh anyway
        return UpsertResult(indexed=indexed, failed=tuple(failed))

    @contextmanager
    def _node(self, doing: str) -> Iterator[None]:
        """Node errors as RouteWatchErrors: E503 when no node answers, E501 when it refuses the write."""
        try:
            yield
        except TransportError as e:
            raise RouteWatchError(Code.E503, f"Elasticsearch unavailable at {self.url} ({doing}): {type(e).__name__}") from e
        except ApiError as e:
            raise RouteWatchError(Code.E501, f"Elasticsearch refused {doing}: HTTP {e.status_code} {e.message}") from e

    def clear(self) -> None:
        """Start a rebuild: a fresh index receives the writes; readers keep the old one until `close()`."""
        self._touched = True
        with self._node("starting a rebuild"):
            self._start_rebuild()

    def _start_rebuild(self) -> None:
        read, write = self._alias_target(self.alias), self._alias_target(self.write_alias)
        fresh = self._new_index_name()
        self.es.indices.create(index=fresh)
        actions: list[dict[str, Any]] = [{"add": {"index": fresh, "alias": self.write_alias}}]
        if write:
            actions.insert(0, {"remove": {"index": write, "alias": self.write_alias}})
        self.es.indices.update_aliases(actions=actions)
        if write and write != read:  # an earlier rebuild that never finished
            self.es.indices.delete(index=write, ignore_unavailable=True)

    def rebuild(self, docs: Iterable[IndexDoc]) -> UpsertResult:
        """A fresh generation index receives every document; the read alias moves to it in one alias update
        only when all were written. On an error the read alias stays on the complete old index."""
        self.clear()
        try:
            res = self.upsert(docs)
        except BaseException:
            self._touched = False  # close() must not publish a half-filled index
            with contextlib.suppress(TransportError, ApiError):
                self._abandon_rebuild()
            raise
        with self._node("publishing the rebuilt index"):
            self._publish()
        return res

    def _abandon_rebuild(self) -> None:
        """Point the write alias back at the index readers use and drop the half-filled one, so the next
        incremental writer does not publish it."""
        read, write = self._alias_target(self.alias), self._alias_target(self.write_alias)
        if not read or not write or read == write:
            return
        self.es.indices.update_aliases(actions=[{"remove": {"index": write, "alias": self.write_alias}},
                                                {"add": {"index": read, "alias": self.write_alias}}])
        self.es.indices.delete(index=write, ignore_unavailable=True)

    def _publish(self) -> None:
        """Swap a finished rebuild in behind the read alias (one atomic alias update), drop the old index."""
        read, write = self._alias_target(self.alias), self._alias_target(self.write_alias)
        if not write or read == write:
            return
        self.es.indices.refresh(index=write)
        actions: list[dict[str, Any]] = [{"add": {"index": write, "alias": self.alias}}]
        if read:
            actions.insert(0, {"remove": {"index": read, "alias": self.alias}})
        self.es.indices.update_aliases(actions=actions)
        if read:
            self.es.indices.delete(index=read, ignore_unavailable=True)

    def count(self) -> int:
        """Documents in the index being written (the new one during a rebuild, as `sqlite.v1` counts)."""
        with self._node("counting documents"):
            return int(self.es.count(index=self.write_alias)["count"])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._touched:
                self._publish()
        except (TransportError, ApiError):
            pass  # the alias stays on the complete old index; the next writer publishes
        finally:
            self.es.close()

    # ---- filters ---------------------------------------------------------------------------------------
    def _filters(self, q: Query) -> list[dict[str, Any]]:
        f: list[dict[str, Any]] = []
        m = threshold(q, self.min_confidence)
        ready = m == self.min_confidence  # the flat fields hold the facts at this threshold

        def fact(field: str, value: str, hi: dict[str, float]) -> dict[str, Any]:
            return {"nested": {"path": "facts", "query": {"bool": {"filter": [
                {"term": {"facts.field": field}}, {"term": {"facts.value": value}}, {"range": {"facts.hi": hi}}]}}}}

        if q.country:
            f.append({"term": {"countries": q.country.upper()}} if ready else
                     fact("country", q.country.upper(), {"gte": m}))
        if q.route:
            # ">EC>" then "CO>" anywhere after it, then "PA>": the ordered subsequence, as sqlite.v1's LIKE.
            steps = [re.sub(r"([*?\\])", r"\\\1", c.upper()) + ">" for c in q.route]
            pattern = {"value": "*>" + "*".join(steps) + "*"}
            if ready:
                f.append({"wildcard": {"route_path": pattern}})
            else:  # the whole route has the steps in order, and none of them is below the threshold
                f.append({"wildcard": {"route_full": pattern}})
                f += [{"bool": {"must_not": [fact("country", c, {"lt": m})]}} for c in dict.fromkeys(q.route)]
        if q.relevant:
            f.append({"term": {"relevant": True}})
        if q.state:
            f.append({"term": {"state": "" if q.state == UNCHECKED else q.state}})
        if q.platform:
            f.append({"term": {"platform": q.platform.lower()}})
        if q.lang:
            f.append({"term": {"lang": q.lang.lower()}})
        if q.since or q.until:
            rng: dict[str, Any] = {"format": "strict_date"}
            if q.since:
                rng["gte"] = q.since
            if q.until:
                rng["lte"] = f"{q.until}||/d"  # the whole day
            f.append({"range": {"posted_at": rng}})
        if q.has_bribe:
            f.append({"term": {"has_bribe": True}} if ready else fact("bribe", "", {"gte": m}))
        if q.min_cost is not None or q.max_cost is not None or q.currency:
            cost: list[dict[str, Any]] = [{"range": {"costs.confidence": {"gte": m}}}]
            if q.currency:
                cost.append({"term": {"costs.currency": q.currency.upper()}})
            if q.min_cost is not None or q.max_cost is not None:
                amount: dict[str, float] = {}
                if q.min_cost is not None:
                    amount["gte"] = float(q.min_cost)
                if q.max_cost is not None:
                    amount["lte"] = float(q.max_cost)
                cost.append({"range": {"costs.amount": amount}})
            f.append({"nested": {"path": "costs", "query": {"bool": {"filter": cost}}}})
        return f

    @staticmethod
    def _text_clauses(terms: list[str]) -> list[dict[str, Any]] | None:
        """One match_phrase per term on the folded text; None when no term has anything searchable."""
        folded = [" ".join(search_form(t).split()) for t in terms]
        clauses = [{"match_phrase": {"units.norm": f}} for f in folded if f]
        return clauses or None

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.es.search(index=self.alias, **body).body
        except ApiError as e:
            raise RouteWatchError(Code.E502, f"query could not be run: HTTP {e.status_code} {e.message}") from e
        except TransportError as e:
            raise RouteWatchError(Code.E503, f"Elasticsearch unavailable at {self.url}: {type(e).__name__}") from e

    # ---- search ----------------------------------------------------------------------------------------
    def search(self, q: Query) -> SearchHits:
        check_paging(q)
        node = query_lang.parse(q.text)
        limit = max(1, min(int(q.limit), 1000))
        filters = self._filters(q)
        src = ["post_id", "url", "platform", "posted_at"]
        by_date = [{"posted_at": {"order": "desc", "missing": "_last"}}, {"post_id": "asc"}]
        if node is None or not query_lang.has_positive(node):  # nothing to rank by: newest first
            if node is not None:
                filters = [*filters, _post_query(node)]
            res = self._search({
                "query": {"bool": {"filter": filters}}, "size": limit, "from": q.offset,
                "track_total_hits": TOTAL_CAP, "_source": [*src, "units.unit_id", "units.kind", "units.text"],
                "sort": by_date,
            })
            return SearchHits([self._post_hit(h["_source"]) for h in res["hits"]["hits"]], **_total(res))
        terms = [to_simplified(t).lower() for t in query_lang.positive_terms(node)]
        inner = {"size": 1, "_source": ["units.unit_id", "units.kind", "units.text", "units.segments"]}
        res = self._search({
            "query": {"bool": {"filter": filters, "must": [_post_query(node, inner)]}},
            "size": limit, "from": q.offset, "_source": src, "track_total_hits": TOTAL_CAP,
            "sort": by_date if q.sort == "date" else
            [{"_score": "desc"}, {"posted_at": {"order": "asc", "missing": "_first"}}, {"post_id": "asc"}],
        })
        hits = []
        for h in res["hits"]["hits"]:
            found = [x for name, ih in sorted((h.get("inner_hits") or {}).items()) if name.startswith("hit")
                     for x in ih["hits"]["hits"]]
            if found:
                best = max(found, key=lambda x: float(x.get("_score") or 0.0))
                hits.append(self._unit_hit(h["_source"], best["_source"], float(h.get("_score") or 0.0), terms))
        return SearchHits(hits, **_total(res))

    @staticmethod
    def _post_hit(p: dict[str, Any]) -> SearchHit:
        units = sorted(p.get("units") or [], key=lambda u: u["kind"])
        u = units[0] if units else None
        text = u["text"] if u else ""
        return SearchHit(post_id=p["post_id"], url=p["url"], platform=p["platform"], posted_at=p.get("posted_at") or "",
                         snippet=text[:160], source=(u["kind"] if u else "caption"), unit_id=(u["unit_id"] if u else ""),
                         score=0.0)

    @staticmethod
    def _unit_hit(p: dict[str, Any], u: dict[str, Any], score: float, terms: list[str]) -> SearchHit:
        text = u["text"]
        span = _first_span(normalise(text), terms)
        start_sec = end_sec = None
        if u["kind"] in ("transcript", "subtitle", "onscreen") and span:
            segs = tuple(Segment(s["start"], s["end"], s["text"]) for s in u.get("segments") or [])
            unit = TextUnit(unit_id=u["unit_id"], post_id=p["post_id"], kind=u["kind"], text=text, segments=segs)
            secs = unit.seconds_for(*span)
            if secs:
                start_sec, end_sec = secs
        return SearchHit(post_id=p["post_id"], url=p["url"], platform=p["platform"], posted_at=p.get("posted_at") or "",
                         snippet=make_snippet(text, span), source=u["kind"], unit_id=u["unit_id"], score=score,
                         start_sec=start_sec, end_sec=end_sec, span=span)

    # ---- trends ----------------------------------------------------------------------------------------
    def trends(self, field: str, by: str = "week", q: Query | None = None) -> list[dict[str, Any]]:
        if by not in PERIODS:
            raise RouteWatchError(Code.E903, f"--by must be week, day or month, not {by!r}")
        fields = {"country": "countries", "leg": "legs", "platform": "platform"}
        if field not in (*fields, "term"):
            raise RouteWatchError(Code.E903, f"--field must be country, leg, term or platform, not {field!r}")
        q = q or Query()
        if q.relevant is None:  # trends count relevant posts unless asked for every post
            q = dataclasses.replace(q, relevant=True)
        base = self._filters(q)
        m = threshold(q, self.min_confidence)
        node = query_lang.parse(q.text)
        if node is not None:  # the posts the search would find
            base.append(_post_query(node))
        period = f"period.{by}"
        totals = {k[0]: n for k, n in self._composite(base, [period]).items()}
        rows: list[dict[str, Any]] = []
        if field in ("country", "leg") and m != self.min_confidence:
            for (per, value), n in self._fact_counts(base, period, field, m).items():
                rows.append({"period": per, "value": value, "n": n})
        elif field in fields:
            for (per, value), n in self._composite(base, [period, fields[field]]).items():
                rows.append({"period": per, "value": value, "n": n})
        else:
            for term in trend_terms():
                clauses = self._text_clauses([to_simplified(term).lower()])
                if not clauses:
                    continue
                match = {"nested": {"path": "units", "query": {"bool": {"filter": clauses}}}}
                for (per,), n in self._composite([*base, match], [period]).items():
                    rows.append({"period": per, "value": term, "n": n})
        rows.sort(key=lambda r: (r["period"], -r["n"], r["value"]))
        return [{"period": r["period"], "value": r["value"], "count": r["n"], "total": totals.get(r["period"], 0)}
                for r in rows]

    def _fact_counts(self, filters: list[dict[str, Any]], period: str, field: str, m: float) -> dict[tuple[str, str], int]:
        """Posts per (period, value) of the facts of `field` that hold at threshold m: every matching post is
        read (paged by post id), as the flat fields only hold the default threshold's facts."""
        out: Counter[tuple[str, str]] = Counter()
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"query": {"bool": {"filter": filters}}, "size": 1000, "track_total_hits": False,
                                    "_source": ["facts", period], "sort": [{"post_id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = self._search(body)["hits"]["hits"]
            for h in hits:
                src = h["_source"]
                per = str(src.get("period", {}).get(period.split(".", 1)[1]))
                values = {x["value"] for x in src.get("facts") or []
                          if x.get("field") == field and x["lo"] < m <= x["hi"]}
                for v in values:
                    out[(per, v)] += 1
            if len(hits) < 1000:
                return dict(out)
            after = hits[-1]["sort"]

    def _composite(self, filters: list[dict[str, Any]], keys: list[str]) -> dict[tuple[str, ...], int]:
        """Exact document counts per combination of keyword values (paged composite aggregation)."""
        out: dict[tuple[str, ...], int] = {}
        after: dict[str, Any] | None = None
        while True:
            comp: dict[str, Any] = {"size": 1000, "sources": [{f"k{i}": {"terms": {"field": k}}} for i, k in enumerate(keys)]}
            if after:
                comp["after"] = after
            res = self._search({"query": {"bool": {"filter": filters}}, "size": 0, "track_total_hits": False,
                                "aggs": {"c": {"composite": comp}}})
            agg = res["aggregations"]["c"]
            for b in agg["buckets"]:
                out[tuple(str(b["key"][f"k{i}"]) for i in range(len(keys)))] = int(b["doc_count"])
            after = agg.get("after_key")
            if not after or not agg["buckets"]:
                return out


@indexes.register(ELASTICSEARCH)
def _elasticsearch_v1(settings: IndexSettings, catalog_path: object, *, read_only: bool,
                      min_confidence: float) -> ElasticIndex:
    """One Elasticsearch index (alias `settings.es_index`) at `settings.es_url`; the catalog path is not read."""
    return ElasticIndex(settings, min_confidence=min_confidence)
