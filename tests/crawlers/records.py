"""What a post's record holds after crawl (or import) and fetch, read back from the catalog, for the per-source
record tests (issue 19): every field a researcher relies on, in one flat dict per post.

`collect(...)` runs the real CLI (`crawl` / `import`, then `fetch`) against a local server standing in for the
platform; `records(data_dir)` reads what the catalog kept: platform, id, url, posted_at, text, author (the
account that published) and signer, views, the fetched media's sha256 (or the fetch stage's outcome when
there is no file), forwarded-from, edited, reply-to.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

MEDIA = Path(__file__).resolve().parents[2] / "routewatch" / "demo" / "corpus" / "media"


def media_bytes(name: str) -> bytes:
    """A small real video of the demo corpus, served as a platform's media file."""
    return (MEDIA / name).read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def origin_env(srv: Any, *platforms: str) -> dict[str, str]:
    """Environment that maps each platform's canonical host to the local server (SPEC §4)."""
    env = {f"ROUTEWATCH_ORIGIN_{p.upper()}": srv.base for p in platforms}
    env["ROUTEWATCH_ALLOW_HOSTS"] = srv.hostport
    return env


def collect(data: Path, env: dict[str, str], *command: str, fetch: bool = True) -> dict[str, Any]:
    """`routewatch <command> --json` then, unless `fetch` is False, `routewatch fetch --json`; the crawl's JSON."""
    out = json.loads(run_cli(*command, "--json", data_dir=data, env=env, timeout=300).stdout or "{}")
    if fetch:
        run_cli("fetch", "--json", data_dir=data, env=env, timeout=300)
    return out


def records(data: Path, *, captured: bool = False) -> dict[str, dict[str, Any]]:
    """Every post of the catalog as {platform_id: record}; with `captured`, its capture time too (imports carry
    their own; a crawl's is the time it ran)."""
    con = sqlite3.connect(data / "catalog.sqlite")
    try:
        con.row_factory = sqlite3.Row
        media = {r["post_id"]: r["sha256"] for r in con.execute("SELECT post_id, sha256 FROM media")}
        fetch = {r["item_id"]: (r["status"], r["code"]) for r in con.execute(
            "SELECT item_id, status, code FROM stage_status WHERE stage='fetch'")}
        out: dict[str, dict[str, Any]] = {}
        for r in con.execute("SELECT * FROM posts ORDER BY platform, platform_id"):
            extra = json.loads(r["extra_json"] or "{}")
            status, code = fetch.get(r["post_id"], ("not fetched", ""))
            out[r["platform_id"]] = {
                "platform": r["platform"], "url": r["url"], "posted_at": r["posted_at"], "text": r["caption"],
                "author": r["author_handle"], "signer": extra.get("signer", ""), "views": r["views"],
                "media": media.get(r["post_id"]) or f"{status} {code}".strip(),
                "forwarded_from": r["forwarded_from"], "edited": bool(extra.get("edited")),
                "reply_to": extra.get("reply_to", ""),
            }
            if captured:
                out[r["platform_id"]]["captured_at"] = r["captured_at"]
        return out
    finally:
        con.close()
