"""What `routewatch` prints of content a stranger wrote: text, never terminal controls or rich markup."""

import json
import re

from rich.console import Console
from typer.testing import CliRunner

from index.base import IndexDoc
from index.sqlite_fts import SqliteIndex
from routewatch.cli import _snippet, app, safe_text
from routewatch.core.records import TextUnit

# Screen clearing, an OSC 8 link, BEL, NUL, DEL, a C1 CSI and a right-to-left override, around rich
# markup that closes nothing ([/b], [/]) and a console link.
CAPTION = ("\x1b[2J\x1b]8;;js:a(1)\x07点我\x1b]8;;\x07 [/b] [/] [link=js:a(2)]x[/link] "
           "走线 从厄瓜多尔到哥伦比亚 \x00\x7f\x9b\u202egpj.exe")
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _index_one(data_dir, caption: str) -> None:
    idx = SqliteIndex(data_dir / "catalog.sqlite")
    try:
        unit = TextUnit(unit_id="t1:caption", post_id="t1", kind="caption", text=caption, lang="zh")
        idx.upsert([IndexDoc(post_id="t1", platform="telegram", url="https://t.me/c/1", posted_at="2026-11-02",
                             captured_at="2026-11-03", lang="zh", source="test", units=(unit,), relevant=True)])
    finally:
        idx.close()


def _run(*args: str):
    r = CliRunner().invoke(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), f"crashed: {r.exception!r}"
    return r


def test_search_prints_a_hostile_snippet_as_plain_visible_text(tmp_path):
    _index_one(tmp_path, CAPTION)
    r = _run("search", "走线", "--data-dir", str(tmp_path))
    assert r.exit_code == 0, r.output
    out = r.output
    assert not TERMINAL_CONTROLS.search(out), f"terminal controls in {out!r}"
    flat = re.sub(r"[\s│|]+", "", out)  # the table may wrap the snippet over several lines
    assert "[/b][/][link=js:a(2)]x[/link]" in flat  # markup shown, not parsed
    assert "␛[2J␛]8;;js:a(1)␇点我" in flat  # each control shown as its picture
    assert "[走线]" in flat  # the index's match marker is kept


def test_search_json_escapes_del_c1_and_bidi_and_decodes_to_the_snippet(tmp_path):
    _index_one(tmp_path, CAPTION)
    r = _run("search", "走线", "--data-dir", str(tmp_path), "--json")
    assert r.exit_code == 0, r.output
    assert not TERMINAL_CONTROLS.search(r.output)
    assert "\\u009b" in r.output and "\\u202e" in r.output
    hit = json.loads(r.output)["hits"][0]
    assert hit["snippet"].endswith("\x00\x7f\x9b\u202egpj.exe")  # the value itself is unchanged


def test_snippet_styles_the_match_not_a_bracket_in_the_text_before_it():
    text = _snippet("[ok] 先到[巴拿马]再走[丛林]", span=(6, 9))  # the match 巴拿马 is 3 characters long
    console = Console(force_terminal=True, color_system="standard", width=200)
    with console.capture() as cap:
        console.print(text)
    styled = [text.plain[s.start:s.end] for s in text.spans]
    assert styled == ["巴拿马"]
    assert "\x1b[" in cap.get() and "[ok] 先到[" in text.plain


def test_safe_text_keeps_length_and_shows_each_control():
    raw = "a\x1bb\x07c\x00d\x7fe\x85f\u202eg\nh\ti"
    shown = safe_text(raw)
    assert shown == "a␛b␇c␀d␡e\ufffdf\ufffdg\nh\ti" and len(shown) == len(raw)
    assert safe_text(raw, one_line=True).endswith("g␊h␉i")


def test_an_error_naming_a_hostile_path_is_one_plain_line(tmp_path):
    d = tmp_path / "x[/b]\x1b[2Jy"
    r = _run("status", "--data-dir", str(d))
    assert r.exit_code == 2
    assert r.output.startswith("E903 ") and "x[/b]␛[2Jy" in r.output and "\x1b" not in r.output


def test_demo_summary_shows_a_hostile_data_dir_as_text(capsys):
    from routewatch.demo.run import _print_summary

    odd = "/tmp/rw[/b]\x1b[2J[bold]x"
    _print_summary({"posts_crawled": 28, "media_fetched": 25, "minutes_transcribed": 4.5, "transcripts": 22,
                    "facts_extracted": 109, "index_documents": 28, "index_backend": "sqlite.v1", "failures": {},
                    "data_dir": odd, "digest": odd + "/digest.html", "seconds": 9,
                    "stages": {"ocr": {"done": 23, "reused": 1, "skipped": 3, "failed": 0}}})
    out = capsys.readouterr().out
    assert "on-screen text" in out and "23 videos read (1 repost files reused)" in out
    assert not TERMINAL_CONTROLS.search(out)
    assert "/tmp/rw[/b]\u241b[2J[bold]x" in out.replace("\n", "")
