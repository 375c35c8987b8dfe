"""Claim tracing: who said it first, and how it spread.

In: a claim in any of the three languages and the catalog.  Out: groups of near-duplicate posts
(same media, same or acoustically identical audio, Telegram forwards, transcript/caption MinHash),
each with its earliest posted and earliest captured post, its platforms, the repost chain and the
evidence per post (text unit, span or seconds, hashes, capture time). Read-only; handles and
contact details are redacted in what it returns.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from index.sqlite_fts import make_snippet, to_simplified
from routewatch.catalog import Catalog
from routewatch.privacy import install_secret, pseudonym, public_url, redact_text

TERMS_FILE = Path(__file__).with_name("trace_terms.yaml")
# A unit matches when it carries (nearly) all of the claim's concepts: 0.8 × concept coverage
# + 0.2 × shared character pairs / words. With two concepts, one of them alone cannot reach it.
MATCH_THRESHOLD = 0.75
NEAR_DUP_JACCARD = 0.6  # MinHash-estimated Jaccard of character 3-shingles for "same text"
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "is", "are", "to", "of", "in", "el", "la", "los", "las", "de", "en", "es", "y", "and",
         "for", "por", "para", "que", "un", "una", "it", "on"}


def fold(s: str) -> str:
    s = to_simplified(unicodedata.normalize("NFKC", s)).lower()
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


@cache
def _concepts() -> dict[str, tuple[str, ...]]:
    data = yaml.safe_load(TERMS_FILE.read_text(encoding="utf-8"))["concepts"]
    out = {k: tuple(fold(w) for w in v) for k, v in data.items()}
    # Country names from the corridor pack: "Ecuador", "厄瓜多尔" and "厄瓜多" are one concept.
    pack = Path(__file__).resolve().parents[1] / "nlp" / "packs" / "zouxian" / "countries.yaml"
    if pack.exists():
        for c in yaml.safe_load(pack.read_text(encoding="utf-8")).get("countries", []):
            names = [fold(n) for n in c.get("names", []) if len(n) >= 2]
            if names:
                out[f"country:{c['iso']}"] = tuple(names)
    return out


def _has_word(text: str, w: str) -> bool:
    if _CJK.search(w):
        return w in text
    return re.search(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])", text) is not None


def concepts_in(text: str) -> set[str]:
    t = fold(text)
    return {k for k, words in _concepts().items() if any(_has_word(t, w) for w in words)}


def _features(text: str) -> set[str]:
    t = fold(text)
    feats = {f"c:{a}{b}" for a, b in zip(t, t[1:], strict=False) if _CJK.match(a) and _CJK.match(b)}
    feats |= {f"w:{w}" for w in _WORD.findall(t) if w not in _STOP and len(w) > 1}
    return feats


def _shingles(text: str, k: int = 3) -> set[str]:
    t = re.sub(r"\s+", "", fold(text))
    return {t[i:i + k] for i in range(max(0, len(t) - k + 1))}


def minhash(text: str, n: int = 64) -> tuple[int, ...]:
    sh = _shingles(text) or {""}
    return tuple(min(int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8, salt=i.to_bytes(8, "little")).digest(),
                                    "little") for s in sh) for i in range(n))


def minhash_similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def score_text(claim: str, text: str, extra_concepts: set[str] | frozenset[str] = frozenset()) -> float:
    """How much of the claim the text says: its concepts (in any language; `extra_concepts` adds what
    extraction found in the post, e.g. a country named through an ASR error) and its character pairs / words."""
    cc, tc = concepts_in(claim), concepts_in(text) | set(extra_concepts)
    cf, tf = _features(claim), _features(text)
    lexical = len(cf & tf) / len(cf) if cf else 0.0
    if not cc:
        return lexical
    return 0.8 * len(cc & tc) / len(cc) + 0.2 * lexical


def _span_of(claim: str, text: str) -> tuple[int, int] | None:
    """The first place in the text where one of the claim's concept words or its longest shared pair occurs."""
    t = fold(text)
    if len(t) != len(text):
        return None
    best: tuple[int, int] | None = None
    for k in concepts_in(claim):
        for w in _concepts()[k]:
            i = t.find(w)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, i + len(w))
    return best


class _UF:
    def __init__(self) -> None:
        self.p: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.p.setdefault(x, x)
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def trace_claim(catalog: Catalog, settings: Any, claim: str, limit: int = 20) -> dict[str, Any]:
    db = catalog.db
    normalised = fold(claim)
    # 1. candidate units: every caption, subtitle and transcript scored against the claim
    matches: dict[str, dict[str, Any]] = {}
    found: dict[str, set[str]] = {}
    for r in db.execute("SELECT post_id, gold_json FROM extractions"):
        found[r[0]] = {f"country:{c}" for c in json.loads(r[1]).get("countries", [])}
    for r in db.execute("SELECT u.unit_id, u.post_id, u.kind, u.text, u.segments_json FROM units u WHERE u.text != ''"):
        s = score_text(claim, r["text"], found.get(r["post_id"], set()))
        if s < MATCH_THRESHOLD:
            continue
        best = matches.get(r["post_id"])
        if best is None or s > best["score"]:
            matches[r["post_id"]] = {"score": s, "unit_id": r["unit_id"], "kind": r["kind"], "text": r["text"],
                                     "segments_json": r["segments_json"]}
    if not matches:
        return {"claim": claim, "normalised": normalised, "concepts": sorted(concepts_in(claim)), "groups": []}
    ids = sorted(matches)
    posts = {p: catalog.get_post(p) for p in ids}
    # 2. near-duplicate groups
    uf = _UF()
    marks = ",".join("?" for _ in ids)
    media = {r[0]: r[1] for r in db.execute(f"SELECT post_id, sha256 FROM media WHERE post_id IN ({marks})", ids)}  # noqa: S608
    tr = {r[0]: r[1] for r in db.execute(
        f"SELECT post_id, transcript_id FROM post_transcripts WHERE post_id IN ({marks})", ids)}  # noqa: S608
    for key_map in (media, tr):
        by: dict[str, str] = {}
        for pid, key in key_map.items():
            if key in by:
                uf.union(by[key], pid)
            else:
                by[key] = pid
    # Telegram forwards: a forward of channel X with the same text as a post of X
    sigs = {p: minhash(_post_text(catalog, p)) for p in ids}
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if minhash_similarity(sigs[a], sigs[b]) >= NEAR_DUP_JACCARD:
                uf.union(a, b)
    groups: dict[str, list[str]] = {}
    for p in ids:
        groups.setdefault(uf.find(p), []).append(p)
    key = install_secret(settings.data_dir)
    out_groups = []
    for members in groups.values():
        members.sort(key=lambda p: (posts[p].posted_at or "9999", p))
        entries = [_evidence(catalog, posts[p], matches[p], media.get(p), tr.get(p), claim, key, settings)
                   for p in members]
        captured = min(members, key=lambda p: (posts[p].captured_at or "9999", p))
        out_groups.append({
            "size": len(members),
            "earliest_posted": members[0],
            "earliest_captured": captured,
            "first_posted_at": posts[members[0]].posted_at,
            "platforms": sorted({posts[p].platform for p in members}),
            "repost_chain": [{"post_id": p, "posted_at": posts[p].posted_at, "platform": posts[p].platform,
                              "forwarded_from": _account(posts[p].forwarded_from, key, settings)} for p in members],
            "best_score": round(max(matches[p]["score"] for p in members), 3),
            "posts": entries,
        })
    out_groups.sort(key=lambda g: (-g["size"], -g["best_score"], g["first_posted_at"] or "9999"))
    return {"claim": claim, "normalised": normalised, "concepts": sorted(concepts_in(claim)),
            "groups": out_groups[:limit]}


def _account(name: str, key: bytes, settings: Any) -> str | None:
    if not name:
        return None
    return pseudonym(name, key) if settings.privacy.pseudonymise_handles else name


def _post_text(catalog: Catalog, pid: str) -> str:
    units = catalog.units(pid)
    tr = [u.text for u in units if u.kind == "transcript"]
    return tr[0] if tr else " ".join(u.text for u in units)


def _evidence(catalog: Catalog, post: Any, m: dict[str, Any], media_sha: str | None, transcript_id: str | None,
              claim: str, key: bytes, settings: Any) -> dict[str, Any]:
    span = _span_of(claim, m["text"])
    start_sec = end_sec = None
    if span and m["kind"] in ("transcript", "subtitle"):
        from routewatch.records import Segment, TextUnit

        segs = tuple(Segment(**d) for d in json.loads(m["segments_json"] or "[]"))
        secs = TextUnit(unit_id=m["unit_id"], post_id=post.post_id, kind=m["kind"], text=m["text"],
                        segments=segs).seconds_for(*span)
        if secs:
            start_sec, end_sec = secs
    snap = catalog.db.execute(
        "SELECT s.sha256, s.fetched_at FROM post_snapshots ps JOIN snapshots s ON s.id = ps.snapshot_id "
        "WHERE ps.post_id = ? ORDER BY s.id LIMIT 1", (post.post_id,)).fetchone()
    redact = settings.privacy.redact_contacts
    snippet = make_snippet(m["text"], span)
    return {
        "post_id": post.post_id, "platform": post.platform, "posted_at": post.posted_at,
        "url": public_url(post.url, key) if settings.privacy.pseudonymise_handles else post.url,
        "captured_at": post.captured_at, "author": pseudonym(post.author_handle, key) if settings.privacy.pseudonymise_handles else post.author_handle,
        "forwarded_from": _account(post.forwarded_from, key, settings), "score": round(m["score"], 3),
        "source": m["kind"], "unit_id": m["unit_id"], "span": list(span) if span else None,
        "start_sec": start_sec, "end_sec": end_sec,
        "snippet": redact_text(snippet) if redact else snippet,
        "media_sha256": media_sha, "transcript_id": transcript_id,
        "snapshot_sha256": snap[0] if snap else None,
    }
