"""Evidence bundles: everything a fact-checker needs to cite a post after it is deleted.

In: a post id and the catalog.  Out: a zip with the page snapshot(s), the media file, the text
units (transcript segments with seconds), the extraction with its spans, provenance, and a
`manifest.json` listing the sha256 and size of every other file in the bundle.
By default the texts and snapshots in the bundle are redacted (handles pseudonymised, contact
details removed); `privacy.raw_evidence = true` keeps raw values for authorised use, and the
manifest says which it is. Never reads a file outside the data dir.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from routewatch.catalog import Catalog, now_iso, stored_json
from routewatch.errors import Code, RouteWatchError
from routewatch.outputs import open_output
from routewatch.privacy import install_secret, post_accounts, pseudonym, redact_obj


def _inside(base: Path, rel: str) -> Path:
    p = (base / rel).resolve()
    if not p.is_relative_to(base.resolve()):
        raise RouteWatchError(Code.E903, f"refusing a path outside the data dir: {rel}")
    return p


def build_bundle(catalog: Catalog, settings: Any, post_id: str, out_path: Path, *, force: bool = False) -> Path:
    post = catalog.get_post(post_id)
    if post is None:
        raise RouteWatchError(Code.E903, f"no post {post_id!r} in the catalog (see `routewatch search`)")
    data_dir = Path(settings.data_dir)
    raw = bool(getattr(settings.privacy, "raw_evidence", False))
    key = install_secret(data_dir)

    # Accounts: this post's author, channel and forward source, and — because a page snapshot shows
    # other messages too — every account the catalog knows; longest first so no name is half-replaced.
    handles = tuple(sorted(known_accounts(catalog), key=len, reverse=True))

    def clean(text: str) -> str:
        return text if raw else str(redact_obj(text, handles, key))

    def clean_json(text: str, where: str = "") -> Any:
        obj = stored_json(text, {}, where=f"{where} of {post_id}")
        return obj if raw else redact_obj(obj, handles, key)

    files: dict[str, bytes] = {}
    post_json = {k: getattr(post, k) for k in post.__dataclass_fields__}
    if not raw:
        post_json = redact_obj({**post_json, "extra_json": stored_json(post.extra_json, {}, where=f"posts.extra_json of {post_id}")}, handles, key)
        post_json["author_handle"] = pseudonym(post.author_handle, key) if post.author_handle else ""
    files["post.json"] = _j(post_json)
    # page snapshots, as fetched (gunzipped)
    snaps = catalog.db.execute(
        "SELECT s.url, s.status, s.sha256, s.path, s.fetched_at, s.tool FROM post_snapshots ps "
        "JOIN snapshots s ON s.id = ps.snapshot_id WHERE ps.post_id = ? ORDER BY s.id", (post_id,)).fetchall()
    snap_meta = []
    for i, s in enumerate(snaps):
        body = gzip.decompress(_inside(data_dir, s["path"]).read_bytes())
        name = f"snapshots/{i:02d}-{s['sha256'][:12]}.html"
        files[name] = body if raw else clean(body.decode("utf-8", errors="replace")).encode()
        snap_meta.append({"file": name, "url": s["url"] if raw else clean(s["url"]), "status": s["status"],
                          "sha256_as_fetched": s["sha256"], "fetched_at": s["fetched_at"], "tool": s["tool"]})
    # media
    media = catalog.db.execute("SELECT * FROM media WHERE post_id = ?", (post_id,)).fetchone()
    media_meta = None
    if media is not None:
        f = _inside(data_dir, media["path"])
        if f.exists():
            name = "media/" + f.name
            files[name] = f.read_bytes()
            media_meta = {"file": name, "sha256": media["sha256"], "size": media["size"],
                          "duration": media["duration"], "fetched_at": media["fetched_at"],
                          "provenance": stored_json(media["provenance_json"], {}, where=f"media.provenance_json of {post_id}")}
            files["media/info.json"] = _j(clean_json(media["info_json"], "media.info_json"))
    # text units and transcripts
    units = [{"unit_id": u.unit_id, "kind": u.kind, "lang": u.lang, "text": clean(u.text),
              "segments": [{"start": s.start, "end": s.end, "text": clean(s.text)} for s in u.segments]}
             for u in catalog.units(post_id)]
    files["text_units.json"] = _j(units)
    trs = catalog.db.execute(
        "SELECT t.transcript_id, t.model, t.language, t.seconds, t.provenance_json, t.created_at, pt.reused "
        "FROM post_transcripts pt JOIN transcripts t ON t.transcript_id = pt.transcript_id WHERE pt.post_id = ?",
        (post_id,)).fetchall()
    files["transcripts.json"] = _j([{**dict(r), "provenance_json": stored_json(r["provenance_json"], {}, where=f"transcripts.provenance_json of {post_id}")}
                                    for r in trs])
    ex = catalog.db.execute("SELECT gold_json, facts_json, provenance_json, created_at FROM extractions WHERE post_id=?",
                            (post_id,)).fetchone()
    if ex is not None:
        files["extraction.json"] = _j({"facts": clean_json(ex["facts_json"], "extractions.facts_json"),
                                       "summary": stored_json(ex["gold_json"], {}, where=f"extractions.gold_json of {post_id}"),
                                       "provenance": stored_json(ex["provenance_json"], {}, where=f"extractions.provenance_json of {post_id}"),
                                       "created_at": ex["created_at"]})
    sightings = [dict(r) for r in catalog.db.execute(
        "SELECT source, discovered_via, seen_at FROM post_sightings WHERE post_id=?", (post_id,))]
    files["provenance.json"] = _j({"snapshots": snap_meta, "media": media_meta,
                                   "sightings": sightings if raw else redact_obj(sightings, handles, key)})
    manifest = {
        "post_id": post_id, "url": post.url if raw else clean(post.url), "platform": post.platform,
        "posted_at": post.posted_at,
        "captured_at": post.captured_at, "bundle_created_at": now_iso(), "redacted": not raw,
        "files": [{"path": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in sorted(files.items())],
    }
    out_path = Path(out_path)
    with open_output(out_path, "wb", data_dir=data_dir, force=force) as f, \
            zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in sorted(files.items()):
            z.writestr(n, b)
        z.writestr("manifest.json", _j(manifest))
    return out_path


def known_accounts(catalog: Catalog) -> set[str]:
    out: set[str] = set()
    for author, fwd, platform, pid, source in catalog.db.execute(
            "SELECT author_handle, forwarded_from, platform, platform_id, source FROM posts"):
        out |= post_accounts(author, fwd, platform, pid)
        if source.startswith("telegram:"):
            out.add(source.split(":", 1)[1])
    return {h for h in out if len(h.lstrip("@")) >= 3}


def verify_bundle(path: Path) -> list[str]:
    """Recompute every hash in the manifest; returns the problems (empty = verified)."""
    problems = []
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
        names = set(z.namelist()) - {"manifest.json"}
        listed = {f["path"] for f in manifest["files"]}
        if names != listed:
            problems.append(f"files not in manifest: {sorted(names ^ listed)}")
        for f in manifest["files"]:
            if f["path"] in names and hashlib.sha256(z.read(f["path"])).hexdigest() != f["sha256"]:
                problems.append(f"hash mismatch: {f['path']}")
    return problems


def _j(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode()
