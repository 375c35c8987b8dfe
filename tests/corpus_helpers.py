"""Small real catalogs for the trace / change / digest tests, without audio: posts through the real
catalog, their texts as caption and transcript units, facts from the real extractor (as stage_extract
saves them). `demo_catalog` loads the demo corpus (speech text as the transcript, reposts sharing one
transcript, every post captured in the same second, as one crawl would)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crawlers.platforms import caption_of
from routewatch.core.catalog import Catalog
from routewatch.core.records import Post, Segment, TextUnit, Transcript, post_id_for
from routewatch.demo.server import Corpus

CAPTURED = "2026-12-01T10:00:00Z"


def add_post(cat: Catalog, extractor: Any, *, platform: str, platform_id: str, caption: str, posted_at: str,
             speech: str = "", lang: str = "", captured_at: str = CAPTURED, forwarded_from: str = "",
             audio_key: str = "", source: str = "test") -> str:
    pid = post_id_for(platform, platform_id)
    post = Post(post_id=pid, platform=platform, platform_id=platform_id, url=f"https://example.org/{platform_id}",
                source=source, caption=caption, posted_at=posted_at, captured_at=captured_at, lang=lang,
                forwarded_from=forwarded_from)
    cat.upsert_post(post)
    with cat.tx():
        cat.put_unit(TextUnit(unit_id=f"{pid}:caption", post_id=pid, kind="caption", text=caption, lang=lang))
    if speech:
        sha = hashlib.sha256((audio_key or speech).encode()).hexdigest()
        seg = Segment(start=0.0, end=max(1.0, len(speech) / 5), text=speech)
        t = Transcript(audio_sha256=sha, language=lang, text=speech, segments=(seg,), model="test", seconds=seg.end)
        existing = cat.find_transcript(sha, "test")
        cat.save_transcript_for_post(pid, t, reuse_id=existing)
    units = [u for u in cat.units(pid) if u.text.strip()]
    merged = extractor.extract_post(units)
    cat.save_extraction(merged, json.dumps(asdict(merged), ensure_ascii=False, default=str))
    return pid


def demo_catalog(data_dir: Path, extractor: Any) -> dict[str, str]:
    """The demo corpus in DATA_DIR/catalog.sqlite; returns demo id -> post id."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ids: dict[str, str] = {}
    corpus = Corpus.load()
    with Catalog(data_dir / "catalog.sqlite") as cat:
        for p in corpus.posts:
            tg = p["channel"] == "telegram"
            speech = (p.get("speech") or {}).get("text", "")
            ids[p["id"]] = add_post(
                cat, extractor, platform="telegram" if tg else "demo",
                platform_id=f"{p['tg_channel']}/{p['msg_id']}" if tg else p["id"],
                caption=caption_of(p.get("title"), p["text"]), posted_at=p["posted_at"], speech=speech,
                lang=p.get("lang") or "", forwarded_from=p.get("forwarded_from") or "",
                audio_key=p.get("repost_of") or p["id"],
                source=f"telegram:{p['tg_channel']}" if tg else {"seed": "seeds:demo"}.get(p["channel"], "feed:demo"))
    return ids
