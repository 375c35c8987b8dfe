from pathlib import Path

import pytest

from routewatch.core.errors import RouteWatchError
from routewatch.settings import load_settings


def test_defaults(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("ROUTEWATCH_") and k != "ROUTEWATCH_SHARED_DATA":
            monkeypatch.delenv(k)
    s = load_settings(tmp_path)
    assert s.data_dir == tmp_path
    assert s.index.backend == "sqlite.v1"
    assert s.crawl.allow_hosts == []
    assert s.crawl.obey_robots is True
    assert s.crawl.concurrency_per_domain == 1
    assert s.privacy.pseudonymise_handles is True
    assert s.privacy.redact_contacts is True
    assert s.transcribe.backend == "faster_whisper.v1"
    assert s.transcribe.compute_type == "int8"
    assert (s.alerts.webhook_attempts, s.alerts.webhook_timeout, s.alerts.webhook_wait) == (4, 10.0, 0.5)


def test_data_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ROUTEWATCH_HOME", str(tmp_path / "home"))
    assert load_settings().data_dir == tmp_path / "home"


def test_toml_then_env_override(tmp_path, monkeypatch):
    (tmp_path / "routewatch.toml").write_text(
        '[index]\nbackend = "elasticsearch"\nes_url = "http://127.0.0.1:9200"\n'
        '[crawl]\nmax_pages_per_source = 7\n[[sources]]\nname = "tg"\nurls = ["https://t.me/s/x"]\n',
        encoding="utf-8")
    s = load_settings(tmp_path)
    assert s.index.backend == "elasticsearch.v1"  # the name before versions, read as v1
    assert s.crawl.max_pages_per_source == 7
    assert [src.name for src in s.sources] == ["tg"]
    monkeypatch.setenv("ROUTEWATCH_INDEX_BACKEND", "sqlite")
    monkeypatch.setenv("ROUTEWATCH_ORIGIN_TELEGRAM", "http://127.0.0.1:8080")
    monkeypatch.setenv("ROUTEWATCH_ALLOW_HOSTS", "127.0.0.1:8080, 127.0.0.1:9000")
    s = load_settings(tmp_path)
    assert s.index.backend == "sqlite.v1"
    assert s.crawl.origins == {"telegram": "http://127.0.0.1:8080"}
    assert s.crawl.allow_hosts == ["127.0.0.1:8080", "127.0.0.1:9000"]


def test_bad_toml_is_E902(tmp_path):
    (tmp_path / "routewatch.toml").write_text("[index\nbackend=", encoding="utf-8")
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path)
    assert ei.value.code.value == "E902"


def test_missing_config_file_is_E902(tmp_path):
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path, Path(tmp_path / "nope.toml"))
    assert ei.value.code.value == "E902"


# ---- settings validated for meaning (issue 21 group 2, issue 12 item 9) ------------------------------------
def _load_error(tmp_path, toml: str | bytes) -> str:
    p = tmp_path / "routewatch.toml"
    p.write_bytes(toml if isinstance(toml, bytes) else toml.encode())
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path)
    return str(ei.value)


@pytest.mark.parametrize("toml, line", [
    ("[crawl]\nconcurrency_per_domain = 0", "E917 crawl.concurrency_per_domain must be ≥ 1 (got 0)"),
    ("[crawl]\nmax_pages_per_source = -1", "E917 crawl.max_pages_per_source must be ≥ 1 (got -1)"),
    ("[crawl]\ntimeout_seconds = nan", "E917 crawl.timeout_seconds must be a finite number (not nan or inf) (got nan)"),
    ("[crawl]\ntimeout_seconds = -5", "E917 crawl.timeout_seconds must be > 0 (got -5)"),
    ("[crawl]\nmax_media_bytes = -1", "E917 crawl.max_media_bytes must be > 0 (got -1)"),
    ("[crawl]\nmax_media_seconds = inf", "E917 crawl.max_media_seconds must be a finite number (not nan or inf) (got inf)"),
    ("[index]\nbackend = \"sqlite.v2\"", "E917 index.backend must be one of 'sqlite.v1' or 'elasticsearch.v1' (got 'sqlite.v2')"),
    ("[index]\nbackend = \"mysql\"", "E917 index.backend must be one of 'sqlite.v1' or 'elasticsearch.v1' (got 'mysql')"),
    ("[transcribe.vad_params]\nthreshold = 2", "E917 transcribe.vad_params.threshold must be ≤ 1 (got 2)"),
    ("[privacy]\nmedia_retention_days = -3", "E917 privacy.media_retention_days must be ≥ 0 (got -3)"),
    ("[crawl]\nmax_page = 3", "E918 unknown setting crawl.max_page (did you mean max_pages_per_source?)"),
    ("[index]\nbakend = \"sqlite\"", "E918 unknown setting index.bakend (did you mean backend?)"),
    ("[crawll]\nobey_robots = true", "E918 unknown settings section crawll (did you mean crawl?)"),
    ("[privacy]\nredact_contact = false", "E918 unknown setting privacy.redact_contact (did you mean redact_contacts?)"),
    ("[extract]\npak = \"zouxian\"", "E918 unknown setting extract.pak (did you mean pack?)"),
    ("[web]\npage_sise = 5", "E918 unknown setting web.page_sise (did you mean page_size?)"),
    ("[[sources]]\nname = \"a\"\nurl = [\"https://t.me/s/x\"]", "E918 unknown setting sources[0].url (did you mean urls?)"),
])
def test_settings_that_cannot_work_name_the_setting(tmp_path, toml, line):
    assert _load_error(tmp_path, toml) == line


def test_env_is_validated_like_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTEWATCH_CRAWL__CONCURRENCY_PER_DOMAIN", "0")
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path)
    assert str(ei.value) == "E917 crawl.concurrency_per_domain must be ≥ 1 (got '0')"
    monkeypatch.delenv("ROUTEWATCH_CRAWL__CONCURRENCY_PER_DOMAIN")
    monkeypatch.setenv("ROUTEWATCH_CRAWL__MAX_PAGE", "3")
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path)
    assert str(ei.value) == "E918 unknown setting crawl.max_page (did you mean max_pages_per_source?)"
    monkeypatch.delenv("ROUTEWATCH_CRAWL__MAX_PAGE")
    monkeypatch.setenv("ROUTEWATCH_CRAWL", "{not json")
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path)
    assert ei.value.code.value == "E917"


def test_config_file_bom_and_special_files(tmp_path):
    (tmp_path / "routewatch.toml").write_bytes(b"\xef\xbb\xbf[crawl]\nmax_pages_per_source = 3\n")
    assert load_settings(tmp_path).crawl.max_pages_per_source == 3
    import os

    os.mkfifo(tmp_path / "fifo.toml")
    (tmp_path / "big.toml").write_bytes(b"#" * (2 * 1024 * 1024))
    (tmp_path / "latin1.toml").write_bytes(b"[crawl]\nuser_agent = \"caf\xe9\"\n")
    for cfg in (tmp_path / "fifo.toml", Path("/dev/zero"), tmp_path, tmp_path / "big.toml", tmp_path / "latin1.toml"):
        with pytest.raises(RouteWatchError) as ei:
            load_settings(tmp_path, cfg)
        assert ei.value.code.value == "E919", cfg


def test_deeply_nested_toml_is_E902(tmp_path):
    (tmp_path / "routewatch.toml").write_text("a = " + "[" * 100000 + "]" * 100000, encoding="utf-8")
    with pytest.raises(RouteWatchError) as ei:
        load_settings(tmp_path)
    assert ei.value.code.value == "E902"


def test_ocr_section_refuses_infinite_seconds(tmp_path):
    assert _load_error(tmp_path, "[ocr]\nmax_video_seconds = inf") == \
        "E917 ocr.max_video_seconds must be a finite number (not nan or inf) (got inf)"
    assert _load_error(tmp_path, "[ocr]\nthread = 2") == "E918 unknown setting ocr.thread (did you mean threads?)"
