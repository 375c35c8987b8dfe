"""Privacy by default over the real demo: no account handle, phone number or messaging id from the
demo corpus appears in any page or API response (SPEC §1). The raw values come from
routewatch/demo/corpus/posts.json: authors, Telegram channels, forward sources, and the contacts in
captions."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

import routewatch.demo

pytestmark = pytest.mark.slow

CORPUS = Path(routewatch.demo.__file__).with_name("corpus") / "posts.json"


def raw_values() -> dict[str, set[str]]:
    posts = json.loads(CORPUS.read_text(encoding="utf-8"))
    handles = {p["author"].lstrip("@") for p in posts if p.get("author")}
    handles |= {p[k].lstrip("@") for p in posts for k in ("tg_channel", "forwarded_from") if p.get(k)}
    text = "\n".join(f"{p.get('title', '')}\n{p.get('text', '')}" for p in posts)
    handles |= {m.lstrip("@") for m in re.findall(r"@[A-Za-z0-9_.]{3,}", text)}
    phones = {m.strip() for m in re.findall(r"\+?\d[\d \-]{6,}\d", text)}
    ids = set(re.findall(r"(?:微信|VX|WeChat|WhatsApp|Telegram)\s*[:：]?\s*([A-Za-z0-9_]{4,})", text, re.I))
    return {"handles": handles, "phones": phones, "ids": ids - {"id"}}


def test_the_corpus_has_the_values_this_test_looks_for():
    v = raw_values()
    assert {"zouxian_notes", "ruta_norte", "runxue_laoli", "lao_zhang_run", "ruta_vip_express", "zx_tapachula",
            "northbound_ana_dm"} <= v["handles"]
    assert {"138-0013-8000", "+52 55 1234 5678", "+57 300 555 0142"} <= v["phones"]
    assert {"zx_helper88", "abc12345"} <= v["ids"]


# A Telegram post's platform id is "<channel>/<number>": the platform's own id, kept as it is in JSON so an
# authorised user can find the post (issue 14; README "Privacy"). Only that field may name the channel.
_PLATFORM_ID = re.compile(r'"platform_id":\s*"[^"]*"')


def leaks(text: str, v: dict[str, set[str]]) -> list[str]:
    low = _PLATFORM_ID.sub("", text).lower()
    found = [h for h in v["handles"] | v["ids"] if re.search(rf"(?<![a-z0-9_]){re.escape(h.lower())}(?![a-z0-9_])", low)]
    for ph in v["phones"]:
        digits = re.sub(r"\D", "", ph)
        # the number with any separators (or none) between its digits, also escaped as JSON might
        if re.search(r"[\s\-.()]*".join(digits), text):
            found.append(ph)
    return found


def crawl_paths(client, db_ids: list[str]) -> list[str]:
    paths = ["/", "/?limit=200", "/trends", "/trends?by=month", "/routes", "/status", "/digest", "/openapi.json",
             "/api/search?limit=200", "/api/status", "/api/routes", "/api/trends?field=country",
             "/api/trends?field=leg", "/api/trends?field=term", "/api/trends?field=platform"]
    for q in ("微信", "WhatsApp", "Telegram", "VX", "加", "block", "DM", "Necoclí", "厄瓜多尔", "Darien", "塔帕丘拉"):
        paths += [f"/?q={quote(q)}&limit=200", f"/api/search?q={quote(q)}&limit=200"]
    for claim in ("Ecuador is visa-free", "fake VIP boats in Necoclí", "Mexican police take $200", "塔帕丘拉离境纸"):
        paths += [f"/trace?claim={quote(claim)}", f"/api/trace?claim={quote(claim)}"]
    for pid in db_ids:
        paths += [f"/posts/{pid}", f"/api/posts/{pid}", f"/posts/{pid}?q=%E5%8E%84&t=1"]
    weeks = set()
    for pid in db_ids:
        d = client.get(f"/api/posts/{pid}").json()
        if d["posted_at"]:
            from index.base import period_of

            weeks.add(period_of(d["posted_at"], "week"))
    for w in sorted(weeks):
        paths += [f"/digest?week={w}", f"/api/digest?week={w}"]
    return paths


def test_no_handle_phone_or_messaging_id_in_any_page_or_response(demo_client, demo_run):
    import sqlite3

    data_dir, _ = demo_run
    con = sqlite3.connect(data_dir / "catalog.sqlite")
    ids = [r[0] for r in con.execute("SELECT post_id FROM posts ORDER BY post_id")]
    con.close()
    v = raw_values()
    seen = 0
    for path in crawl_paths(demo_client, ids):
        r = demo_client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        text = r.text
        if r.headers["content-type"].startswith("application/json"):
            text += "\n" + json.dumps(r.json(), ensure_ascii=False)  # unescaped too
        assert not leaks(text, v), (path, leaks(text, v))
        seen += 1
    assert seen > 100
    # the raw values are really in the catalog the app reads: the absence above is the app's doing
    con = sqlite3.connect(data_dir / "catalog.sqlite")
    raw = "\n".join(r[0] + r[1] + r[2] for r in con.execute("SELECT caption, url, author_handle FROM posts"))
    con.close()
    assert len(leaks(raw, v)) >= 10


def test_evidence_bundles_carry_no_raw_handle_or_contact(demo_client, demo_run):
    """The evidence download is an API response too: every file in it is checked."""
    import sqlite3

    data_dir, _ = demo_run
    con = sqlite3.connect(data_dir / "catalog.sqlite")
    ids = [r[0] for r in con.execute("SELECT post_id FROM posts ORDER BY post_id")]
    con.close()
    v = raw_values()
    bad = []
    for pid in ids:
        z = zipfile.ZipFile(io.BytesIO(demo_client.get(f"/api/posts/{pid}/evidence").content))
        for name in z.namelist():
            if name.endswith((".mp4", ".ogg", ".webm", ".m4a")):
                continue
            found = leaks(z.read(name).decode("utf-8", "replace"), v)
            if found:
                bad.append((pid, name, sorted(found)))
    assert not bad, bad[:10]
