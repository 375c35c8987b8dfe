"""What researchers and fact-checkers take away: trace, digest, evidence bundles, exports — on the real demo data."""

import csv
import json
import re
import zipfile
from html.parser import HTMLParser

import pyarrow.parquet as pq
import pytest

from routewatch.demo.server import Corpus
from routewatch.evidence import verify_bundle
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def _post_ids_by_demo_id(data):
    import sqlite3

    con = sqlite3.connect(data / "catalog.sqlite")
    rows = con.execute("SELECT post_id, platform, platform_id FROM posts").fetchall()
    con.close()
    out = {}
    corpus = Corpus.load()
    for p in corpus.posts:
        key = f"{p['tg_channel']}/{p['msg_id']}" if p["channel"] == "telegram" else p["id"]
        out[p["id"]] = next(r[0] for r in rows if r[2] == key)
    return out


def test_trace_groups_the_reposted_clip_earliest_first(demo_run):
    data, _ = demo_run
    ids = _post_ids_by_demo_id(data)
    corpus = Corpus.load()
    original = next(p for p in corpus.posts if any(q["repost_of"] == p["id"] for q in corpus.posts))
    reposts = [p for p in corpus.posts if p["repost_of"] == original["id"]]
    res = json.loads(run_cli("trace", "厄瓜多尔免签", "--json", data_dir=data).stdout)
    expected = {ids[original["id"]], *(ids[p["id"]] for p in reposts)}
    groups = [g for g in res["groups"] if expected & {e["post_id"] for e in g["posts"]}]
    assert len(groups) == 1, "the reposted clip must be one group"
    g = groups[0]
    assert {e["post_id"] for e in g["posts"]} >= expected
    assert g["earliest_posted"] == ids[original["id"]]
    assert g["posts"][0]["post_id"] == ids[original["id"]]
    posted = [e["posted_at"] for e in g["posts"]]
    assert posted == sorted(posted)
    assert set(g["platforms"]) == {"demo", "telegram"}


def test_trace_matches_across_languages(demo_run):
    data, _ = demo_run
    res = json.loads(run_cli("trace", "Ecuador visa-free", "--json", data_dir=data).stdout)
    zh = json.loads(run_cli("trace", "厄瓜多尔免签", "--json", data_dir=data).stdout)
    assert {e["post_id"] for g in zh["groups"] for e in g["posts"]} <= {e["post_id"] for g in res["groups"] for e in g["posts"]}


class _Text(HTMLParser):
    """The visible text of the body (no <title>, <style> or <script>)."""

    def __init__(self):
        super().__init__()
        self.parts = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("title", "style", "script"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("title", "style", "script"):
            self.skip -= 1

    def handle_data(self, d):
        if not self.skip:
            self.parts.append(d)


def _numbers(text):
    return re.findall(r"<5|\d[\d,.]*", text)


@pytest.mark.parametrize("week", ["2026-W45", "2026-W48"])
def test_digest_markdown_and_html_agree_and_match_trends(demo_run, tmp_path, week):
    data, _ = demo_run
    out = tmp_path / week
    d = json.loads(run_cli("digest", "--week", week, "--out", str(out), "--json", data_dir=data).stdout)["digest"]
    md = (out / "digest.md").read_text(encoding="utf-8")
    p = _Text()
    p.feed((out / "digest.html").read_text(encoding="utf-8"))
    html_text = " ".join(p.parts)  # cells apart: adjacent numbers in two cells stay two numbers
    assert _numbers(md.replace("![", "")) == _numbers(html_text), "Markdown and HTML must show the same numbers"
    for section in ("Volume", "Top route legs", "Median quoted costs", "Bribe mentions", "New and rising terms",
                    "Most-reposted clips", "Earliest sources", "Collector health"):
        assert section in md and section in html_text
    assert (out / "volume.svg").read_text().startswith("<svg")
    # no count between 1 and 4 is printed: all are "<5"
    for v in d["volume"]:
        assert v["relevant"] == ("<5" if v["n"] < 5 else str(v["n"]))
    # the same numbers as `routewatch trends`
    rows = json.loads(run_cli("trends", "--by", "week", "--field", "leg", "--json", data_dir=data).stdout)["rows"]
    trend_legs = {r["value"]: r["count"] for r in rows if r["period"] == week}
    assert {lg["key"]: lg["n"] for lg in d["top_legs"]} == dict(sorted(trend_legs.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    totals = {r["period"]: r["total"] for r in rows}
    if week in totals:
        assert next(v["n"] for v in d["volume"] if v["week"] == week) == totals[week]


def test_evidence_bundle_manifest_verifies(demo_run, tmp_path):
    data, _ = demo_run
    ids = _post_ids_by_demo_id(data)
    pid = ids["p03"]
    out = tmp_path / "b.zip"
    res = json.loads(run_cli("evidence", pid, "-o", str(out), "--json", data_dir=data).stdout)
    assert res["verified"] is True
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        units = json.loads(z.read("text_units.json"))
    assert {"post.json", "text_units.json", "extraction.json", "provenance.json", "manifest.json"} <= names
    assert any(n.startswith("snapshots/") for n in names) and any(n.startswith("media/") for n in names)
    assert any(u["kind"] == "transcript" and u["segments"] for u in units)
    assert manifest["redacted"] is True
    # tampering is detected
    tampered = tmp_path / "t.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for n in zin.namelist():
            b = zin.read(n)
            zout.writestr(n, b + b"x" if n == "post.json" else b)
    assert verify_bundle(tampered) == ["post.json: changed: its sha256 is not the one the bundle recorded"]


def test_unknown_post_is_a_clear_error(demo_run, tmp_path):
    data, _ = demo_run
    cp = run_cli("evidence", "nope", "-o", str(tmp_path / "x.zip"), data_dir=data, check=False)
    assert cp.returncode != 0 and cp.stderr.strip().startswith("E903")  # bad input on the command line; E904 on the web


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_is_lossless_and_private(demo_run, tmp_path, fmt):
    data, _ = demo_run
    out = tmp_path / f"posts.{fmt}"
    n = json.loads(run_cli("export", "--format", fmt, "-o", str(out), "--json", data_dir=data).stdout)["records"]
    corpus = Corpus.load()
    assert n == len(corpus.posts)
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        units = rows[0]["units"]
    elif fmt == "csv":
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        units = json.loads(rows[0]["units"])
    else:
        rows = pq.read_table(out).to_pylist()
        units = json.loads(rows[0]["units"])
    assert len(rows) == len(corpus.posts)
    assert isinstance(units, list)
    text = out.read_bytes().decode("utf-8", errors="replace") if fmt != "parquet" else json.dumps(rows, ensure_ascii=False)
    for p in corpus.posts:
        assert p["author"] not in text
