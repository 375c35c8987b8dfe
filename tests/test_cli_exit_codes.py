"""Exit codes and one-line errors of the CLI as a person meets them (README: Commands, Exit codes).

A command whose every item failed exits 1 and lists per code the count and one reason (E909); a partial
failure lists the same and exits 0; bad usage is one `E### reason` line and exit 2, never click's box.
"""

from __future__ import annotations

import json
import re

from routewatch.core.catalog import Catalog
from tests.conftest import make_post, run_cli


def _lines(text: str) -> list[str]:
    return [ln for ln in text.strip().splitlines() if ln.strip()]


def test_crawl_of_a_non_url_fails_with_its_reason(tmp_path):
    cp = run_cli("crawl", "--url", "not-a-url", data_dir=tmp_path, check=False)
    assert cp.returncode == 1 and "Traceback" not in cp.stderr
    assert "E106 ×1 (crawl): no crawler handles 'not-a-url'" in cp.stderr
    assert _lines(cp.stderr)[-1].startswith("E909 every item failed (1): E106 ×1")


def test_crawl_of_a_private_address_fails_with_its_reason(tmp_path):
    cp = run_cli("crawl", "--url", "http://127.1/", "--json", data_dir=tmp_path, check=False)
    assert cp.returncode == 1
    assert json.loads(cp.stdout)[0]["failed"] == 1  # --json: only JSON on stdout, the summary on stderr
    assert "E103 ×1 (crawl): address 127.1 is private" in cp.stderr and "E909" in cp.stderr


def _catalog_with(tmp_path, media_urls):
    cat = Catalog(tmp_path / "catalog.sqlite")
    for i, url in enumerate(media_urls):
        p = make_post(platform_id=f"c/{i}", media_url=url, url=f"https://t.me/c/{i}")
        cat.upsert_post(p)
        cat.set_status(p.post_id, "crawl", "done")
    cat.close()


def test_fetch_where_every_item_failed_exits_1(tmp_path):
    _catalog_with(tmp_path, ["http://127.1/a.mp4", "http://10.0.0.1/b.mp4"])
    cp = run_cli("fetch", data_dir=tmp_path, check=False)
    assert cp.returncode == 1
    assert "E103 ×2 (fetch): address" in cp.stderr
    assert _lines(cp.stderr)[-1].startswith("E909 every item failed (2): E103 ×2")


def test_partial_failure_prints_the_summary_and_exits_0(tmp_path):
    _catalog_with(tmp_path, ["http://127.1/a.mp4", ""])  # one refused, one with nothing to fetch (skipped)
    cp = run_cli("fetch", data_dir=tmp_path, check=False)
    assert cp.returncode == 0
    assert "E103 ×1 (fetch): address" in cp.stderr and "E909" not in cp.stderr
    assert "1 item(s) failed, 1 done, reused or skipped" in cp.stderr


def test_status_shows_last_run_as_a_time_and_whole_words(tmp_path):
    run_cli("crawl", "--url", "not-a-url", data_dir=tmp_path, check=False)
    cp = run_cli("status", data_dir=tmp_path, env={"COLUMNS": "200"})
    assert "last run (UTC)" in cp.stdout
    health = next(ln for ln in cp.stdout.splitlines() if ln.startswith("│ cli"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", health.split("│")[2].strip())  # not the run number "1"
    assert "(supported: http(s) pages, feeds, t.me/s/…)" in cp.stdout  # the example in full, not cut mid-word


def test_eval_on_a_bad_gold_line_is_one_coded_line(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "1", "text": "走线"}\nnot json\n', encoding="utf-8")
    cp = run_cli("eval", str(gold), check=False)
    assert cp.returncode == 2 and "Traceback" not in cp.stderr
    assert _lines(cp.stderr) == [f"E601 {gold} line 2: not valid JSON (Expecting value)"]


def test_help_points_at_nothing_a_user_does_not_have():
    for cmd in ("eval", "annotate", "bench", "search", "trends", "evidence"):
        cp = run_cli(cmd, "--help", env={"COLUMNS": "200"})
        assert "../shared" not in cp.stdout and "SPEC" not in cp.stdout, cmd


def test_usage_errors_are_one_line(tmp_path):
    for args, needle in ((["digest", "--week", "2026-W45"], "Missing option '--out'"),
                         (["search", "--limit", "abc"], "Invalid value for '--limit'"),
                         (["serve", "--workers", "0"], "Invalid value for '--workers'"),
                         (["nosuchcommand"], "No such command 'nosuchcommand'")):
        cp = run_cli(*args, check=False)
        assert cp.returncode == 2, args
        assert _lines(cp.stderr) == [_lines(cp.stderr)[0]] and _lines(cp.stderr)[0].startswith("E903 "), cp.stderr
        assert needle in cp.stderr and "Usage:" not in cp.stderr and "╭" not in cp.stderr


def test_bad_values_are_refused_not_answered_with_no_hits(tmp_path):
    Catalog(tmp_path / "catalog.sqlite").close()
    run_cli("index", data_dir=tmp_path)
    for args, code in ((["search", "x", "--lang", "xx"], "E903"),
                       (["search", "x", "--currency", "XYZ", "--min-cost", "1"], "E903"),
                       (["search", "x", "--min-cost", "500", "--max-cost", "100", "--currency", "USD"], "E903"),
                       (["search", "", "--country", "XX"], "E908"),
                       (["trends", "--country", "Narnia"], "E908"),
                       (["search", "darien -"], None),
                       (["trace", "x", "--limit", "-1"], "E903"),
                       (["digest", "--week", "9999-W52", "--out", str(tmp_path / "d")], "E903"),
                       (["serve", "--port", "70000"], "E903")):
        cp = run_cli(*args, data_dir=tmp_path, check=False)
        assert "Traceback" not in cp.stderr, args
        if code is None:
            assert cp.returncode == 0, (args, cp.stderr)
            continue
        assert cp.returncode == 2 and _lines(cp.stderr)[0].startswith(code + " ") and len(_lines(cp.stderr)) == 1, \
            (args, cp.stderr)
    assert not (tmp_path / "d").exists()
