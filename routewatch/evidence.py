"""Evidence bundles: everything a fact-checker needs to cite a post after it is deleted, and to check alone.

In: a post id, the catalog and the settings.  Out: a zip with the page snapshot(s) (Telegram: the message's
own page beside the channel listing), the media file, text units, extraction, provenance, `manifest.json`
(sha256 and size of every content file), `SHA256SUMS` (what `sha256sum -c` checks: every file but itself)
and `statement.json` + `statement.sig` (an Ed25519 signature by this install's key, `signing_key.txt`): the
as-fetched hash of each snapshot and, for a redacted copy, how it was redacted. By default snapshots and
texts are redacted copies (privacy on); `privacy.reveal` or `privacy.raw_evidence` keeps them as fetched,
so the file's hash is the as-fetched one. `verify_bundle` checks all of it. Provenance names canonical
URLs, never a test origin. Never reads a file outside the data dir.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zlib import error as zlib_error

from crawlers.origins import origin_key_of_host
from routewatch.core.catalog import Catalog, now_iso, stored_json
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.outputs import open_output
from routewatch.core.privacy import PACKS_DIR, redact_obj
from routewatch.view import PostView, policy

SUMS = "SHA256SUMS"
STATEMENT, SIGNATURE, PUBKEY = "statement.json", "statement.sig", "signing_key.txt"
SIGNED = (STATEMENT, SIGNATURE, PUBKEY)  # listed in SHA256SUMS, not in the manifest (the statement signs it)
READ_ME = "VERIFY.txt"


def _inside(base: Path, rel: str) -> Path:
    p = (base / rel).resolve()
    if not p.is_relative_to(base.resolve()):
        raise RouteWatchError(Code.E903, f"refusing a path outside the data dir: {rel}")
    return p


def signing_key(data_dir: Path) -> Any:
    """This install's Ed25519 key for bundle statements (DATA_DIR/.evidence_signing.key, 0600, made on first use)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = Path(data_dir) / ".evidence_signing.key"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return Ed25519PrivateKey.from_private_bytes(p.read_bytes()[:32])


def key_fingerprint(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:32]


def _rules_digest() -> dict[str, str]:
    """The privacy rule files a redaction used, by sha256 (the same rules redact the same bytes alike)."""
    return {str(f.relative_to(PACKS_DIR.parent.parent)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(PACKS_DIR.glob("*/privacy.yaml"))}


def _canonical_info(info: Any, canonical_media_url: str) -> Any:
    """yt-dlp's info of a media file fetched through a configured origin (a test server, a mirror): every URL
    on that origin rewritten to the canonical address, so provenance never names where the bytes came from."""
    if not isinstance(info, dict) or not canonical_media_url:
        return info
    fetched = str(info.get("original_url") or info.get("webpage_url") or info.get("url") or "")
    f, c = urlsplit(fetched), urlsplit(canonical_media_url)
    if not f.netloc or f.netloc == c.netloc or origin_key_of_host(f.hostname or ""):
        return info
    origin, canon = f"{f.scheme}://{f.netloc}", f"{c.scheme}://{c.netloc}"

    def fix(v: Any) -> Any:
        if isinstance(v, str):
            return v.replace(origin, canon) if origin in v else (c.netloc if v == f.netloc else v)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return fix(info)


def build_bundle(catalog: Catalog, settings: Any, post_id: str, out_path: Path, *, force: bool = False) -> Path:
    post = catalog.get_post(post_id)
    if post is None:
        raise RouteWatchError(Code.E903, f"no post {post_id!r} in the catalog (see `routewatch search`)")
    data_dir = Path(settings.data_dir)
    # raw: the authorised modes keep every file as fetched / stored (raw_evidence: in bundles only)
    scrub = policy(settings, catalog, reveal=bool(getattr(settings.privacy, "raw_evidence", False)))
    raw = scrub.reveal or not (scrub.redact or scrub.pseudonymise)
    key = scrub.key
    view = PostView.of(post, scrub)

    # Accounts: every account the catalog knows (a channel listing shows other messages too), longest first
    handles = tuple(sorted({h for h in catalog.account_names() if len(h.lstrip("@")) >= 3}, key=len, reverse=True))
    pseudo_handles = handles if scrub.pseudonymise else ()

    def clean(text: str) -> str:
        return text if raw else str(redact_obj(text, pseudo_handles, key, keep=scrub.public_accounts))

    def clean_obj(obj: Any) -> Any:
        return obj if raw else redact_obj(obj, pseudo_handles, key, keep=scrub.public_accounts)

    files: dict[str, bytes] = {}
    post_json = clean_obj({**{k: getattr(post, k) for k in post.__dataclass_fields__ if k != "extra_json"},
                           "extra": stored_json(post.extra_json, {}, where=f"posts.extra_json of {post_id}")})
    # the post as every output shows it (routewatch.view), ids exactly as stored
    post_json.update(view.as_dict())
    files["post.json"] = _j(post_json)
    snaps = catalog.snapshots_of(post_id)
    snap_meta = []
    for i, s in enumerate(snaps):
        body = gzip.decompress(_inside(data_dir, s["path"]).read_bytes())
        name = f"snapshots/{i:02d}-{s['sha256'][:12]}.html"
        files[name] = body if raw else clean(body.decode("utf-8", errors="replace")).encode()
        entry = {"file": name, "url": scrub.url_shown(s["url"]), "status": s["status"],
                 "sha256_as_fetched": s["sha256"], "sha256_of_file": hashlib.sha256(files[name]).hexdigest(),
                 "copy": "as fetched" if raw else "redacted", "fetched_at": s["fetched_at"], "tool": s["tool"],
                 "page": "the post's own page" if "?embed=1" in s["url"] or s["url"] == post.url else "a listing"}
        snap_meta.append(entry)
    media = catalog.media_detail(post_id)
    media_meta = None
    if media is not None:
        f = _inside(data_dir, media["path"])
        if f.exists():
            name = "media/" + f.name
            files[name] = f.read_bytes()
            prov = media["provenance"]
            canonical_media = post.media_url or next((v for k, v in prov.get("params") or [] if k == "url"), "")
            media_meta = {"file": name, "sha256": media["sha256"], "size": media["size"],
                          "duration": media["duration"], "fetched_at": media["fetched_at"],
                          "canonical_url": scrub.url_shown(canonical_media), "provenance": clean_obj(prov)}
            info = _canonical_info(media["info"], canonical_media)
            files["media/info.json"] = _j(clean_obj(info))
    units = [{"unit_id": u.unit_id, "kind": u.kind, "lang": u.lang, "text": clean(u.text),
              "segments": [{"start": s.start, "end": s.end, "text": clean(s.text)} for s in u.segments]}
             for u in catalog.units(post_id)]
    files["text_units.json"] = _j(units)
    # the bundle's own field names, as they always were (`provenance_json` decoded, `reused` 0/1)
    files["transcripts.json"] = _j([{k: t[k] for k in ("transcript_id", "model", "language", "seconds")}
                                    | {"provenance_json": t["provenance"], "created_at": t["created_at"],
                                       "reused": int(t["reused"])} for t in catalog.transcripts_of(post_id)])
    ex = catalog.extraction_detail(post_id)
    if ex is not None:
        files["extraction.json"] = _j({"facts": clean_obj(ex["facts"]), "summary": ex["summary"],
                                       "provenance": ex["provenance"], "created_at": ex["created_at"]})
    sightings = [{"source": scrub.source(r["source"]), "discovered_via": scrub.url_shown(r["discovered_via"]),
                  "seen_at": r["seen_at"]} for r in catalog.sightings_of(post_id)]
    privacy = scrub.provenance()
    if raw:
        privacy = {**privacy, "evidence": "as fetched (authorised raw mode)"}
    redaction = None if raw else {
        "how": "routewatch.core.privacy.redact_obj over the UTF-8 text of the snapshot as fetched: account handles the "
               "catalog knows -> keyed pseudonyms (HMAC-SHA256, this install's key), phone numbers, messaging ids "
               "and contact links -> [phone removed] / [id removed] / [link removed]; nothing else changed",
        "rules_sha256": _rules_digest(),
        "pseudonym_key_id": hashlib.sha256(b"routewatch-pseudonym-key-id" + key).hexdigest()[:16],
        "reproduce": "whoever holds the snapshot as fetched (the operator's data dir keeps it, by sha256) and this "
                     "install can redact it again and get the same bytes; its sha256 is sha256_as_fetched"}
    files["provenance.json"] = _j({"post": {"url": view.url, "url_is_link": view.url_is_link, "platform": post.platform,
                                            "platform_id": post.platform_id}, "snapshots": snap_meta,
                                   "media": media_meta, "sightings": sightings, "privacy": privacy,
                                   "redaction": redaction})
    files[READ_ME] = _readme(raw).encode()
    manifest = {
        "post_id": post_id, "url": view.url, "url_is_link": view.url_is_link, "platform": post.platform,
        "platform_id": post.platform_id, "posted_at": post.posted_at, "captured_at": post.captured_at,
        "bundle_created_at": now_iso(), "redacted": not raw, "privacy": privacy,
        "files": [{"path": n, "sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in sorted(files.items())],
    }
    files["manifest.json"] = _j(manifest)
    sk = signing_key(data_dir)
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    statement = {
        "statement": "This install kept the files below for this post; the snapshot hashes are of the bytes "
                     "as fetched from the platform.",
        "post_id": post_id, "platform": post.platform, "platform_id": post.platform_id, "url": view.url,
        "manifest_sha256": hashlib.sha256(files["manifest.json"]).hexdigest(),
        "snapshots": [{k: e[k] for k in ("file", "url", "sha256_as_fetched", "sha256_of_file", "copy", "fetched_at")}
                      for e in snap_meta],
        "media_sha256": media_meta["sha256"] if media_meta else None,
        "redaction": redaction, "signed_at": manifest["bundle_created_at"], "key": key_fingerprint(pub),
    }
    files[STATEMENT] = _j(statement)
    files[SIGNATURE] = sk.sign(files[STATEMENT]).hex().encode() + b"\n"
    files[PUBKEY] = (pub.hex() + "\n").encode()
    files[SUMS] = "".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in sorted(files.items())).encode()
    out_path = Path(out_path)
    with open_output(out_path, "wb", data_dir=data_dir, force=force) as f, \
            zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, b in sorted(files.items()):
            z.writestr(n, b)
    return out_path


def _readme(raw: bool) -> str:
    copy = ("The snapshots are the bytes as fetched: each file's sha256 is its sha256_as_fetched."
            if raw else
            "The snapshots are redacted copies (handles pseudonymised, contacts removed): their sha256 differs from "
            "sha256_as_fetched, which statement.json states and signs; provenance.json says how they were redacted.")
    return ("How to check this bundle\n\n"
            "  sha256sum -c SHA256SUMS        every file is the one this install wrote\n"
            "  routewatch verify BUNDLE.zip   the same, plus the manifest, the statement's signature and what each\n"
            "                                 hash proves and does not prove\n\n"
            f"{copy}\nThe signing key's fingerprint is in statement.json; compare it with the one the operator "
            "publishes: a bundle re-signed with another key verifies too, but names another key.\n")


def known_accounts(catalog: Catalog) -> set[str]:
    return {h for h in catalog.account_names() if len(h.lstrip("@")) >= 3}


# ---- verification -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One verified claim: which file, whether it holds, what it proves and what it does not."""

    file: str
    ok: bool
    what: str
    proves: str
    not_proves: str


def verify_report(path: Path) -> list[Check]:
    """Every check of a bundle, in order. A file changed, added or removed fails a check that names it.
    The signature vouches for statement.json, the statement for manifest.json, the manifest for the
    content files; SHA256SUMS is judged last, against files found intact without it."""
    bad: list[Check] = []
    data: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if n.endswith("/"):
                    continue
                try:
                    data[n] = z.read(n)
                except (zipfile.BadZipFile, zlib_error, EOFError) as e:
                    bad.append(Check(n, False, f"damaged inside the zip: {e}", "", ""))
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return [Check(str(path), False, f"not a readable zip: {e}", "", "")]
    actual = {n: hashlib.sha256(b).hexdigest() for n, b in data.items()}
    sums: dict[str, str] = {}
    sums_parsed = SUMS in data
    try:
        for line in data.get(SUMS, b"").decode().splitlines():
            m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
            if m is None:
                sums_parsed = False
            else:
                sums[m.group(2)] = m.group(1)
    except UnicodeDecodeError:
        sums_parsed = False

    # 1. the signature over statement.json, by the key in signing_key.txt
    statement: dict[str, Any] = {}
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        pub = bytes.fromhex(data[PUBKEY].decode().strip())
        Ed25519PublicKey.from_public_bytes(pub).verify(bytes.fromhex(data[SIGNATURE].decode().strip()), data[STATEMENT])
        statement = json.loads(data[STATEMENT])
        if statement.get("key") != key_fingerprint(pub):
            statement = {}
    except (KeyError, ValueError, InvalidSignature, UnicodeDecodeError):
        statement = {}
    changed: list[str] = []
    if not statement:
        named = [n for n in SIGNED if n in data and sums.get(n) != actual[n]]
        changed += named or [" / ".join(SIGNED)]
    # 2. the manifest: its hash is signed (or, without a valid signature, listed in SHA256SUMS)
    expected_manifest = statement.get("manifest_sha256") if statement else sums.get("manifest.json")
    manifest_ok = "manifest.json" in data and expected_manifest == actual.get("manifest.json")
    manifest: dict[str, Any] = {}
    if manifest_ok:
        manifest = json.loads(data["manifest.json"])
    elif "manifest.json" in data:
        changed.append("manifest.json")
    listed = {f["path"]: f["sha256"] for f in manifest.get("files", [])} if manifest_ok else \
        {n: h for n, h in sums.items() if n not in (*SIGNED, "manifest.json")}
    # 3. every content file against the manifest
    for n in sorted(listed):
        if n not in data:
            bad.append(Check(n, False, "listed but missing from the bundle", "", ""))
        elif actual[n] != listed[n]:
            changed.append(n)
    for n in sorted(set(data) - set(listed) - {SUMS, "manifest.json", *SIGNED}):
        bad.append(Check(n, False, "a file the bundle never listed (added)", "", ""))
    bad += [Check(n, False, "changed: its sha256 is not the one the bundle recorded", "", "") for n in changed]
    # 4. SHA256SUMS, against the files found intact without it
    if not bad and (not sums_parsed or set(sums) != set(data) - {SUMS} or any(sums[n] != actual[n] for n in sums)):
        bad.append(Check(SUMS, False, "changed: it no longer lists every file with its sha256", "", ""))
    if bad:
        return bad
    checks = [Check(SUMS, True, f"{len(sums)} files match SHA256SUMS (what `sha256sum -c SHA256SUMS` checks)",
                    "no file was changed, added or removed since the bundle was written",
                    "who wrote it, or that anything in it is true: whoever changes a file can rewrite SHA256SUMS"),
              Check(STATEMENT, True, f"signature valid: signed by {statement.get('key')} at {statement.get('signed_at')}",
                    "the holder of that key signed these hashes, and manifest.json (every content file's hash) is "
                    "the one it signed",
                    "whose key it is: compare the fingerprint with the one the operator publishes")]
    for e in statement.get("snapshots") or []:
        n = e.get("file", "")
        if e.get("copy") == "as fetched":
            ok = actual.get(n) == e.get("sha256_as_fetched")
            checks.append(Check(n, ok, f"as fetched from {e.get('url')} at {e.get('fetched_at')}: sha256 = sha256_as_fetched"
                                if ok else "said to be as fetched, but its sha256 is not sha256_as_fetched",
                                "these are the bytes the platform served then (if the signer is honest)",
                                "that the page says anything true, or that the platform still shows it"))
        else:
            ok = actual.get(n) == e.get("sha256_of_file")
            checks.append(Check(n, ok, f"redacted copy of the page fetched from {e.get('url')} at {e.get('fetched_at')}; "
                                f"as fetched, its sha256 was {e.get('sha256_as_fetched')}",
                                "this copy is the one the signer made, and the signer states the as-fetched hash",
                                "the as-fetched bytes: only the operator's copy (or a re-fetch that still matches) can "
                                "be checked against sha256_as_fetched"))
    if statement.get("media_sha256"):
        name = next((n for n in sorted(data) if n.startswith("media/") and n != "media/info.json"), "")
        ok = bool(name) and actual.get(name) == statement["media_sha256"]
        checks.append(Check(name or "media/", ok, f"media sha256 {statement['media_sha256']}",
                            "this is the media file the pipeline downloaded, transcribed and hashed",
                            "where the platform got it or who made it"))
    return checks


def verify_bundle(path: Path) -> list[str]:
    """The problems of a bundle, one line each naming the file (empty: every hash matches)."""
    return [f"{c.file}: {c.what}" for c in verify_report(path) if not c.ok]


def _j(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode()
