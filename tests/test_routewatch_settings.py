from pathlib import Path

import pytest

from routewatch.errors import RouteWatchError
from routewatch.settings import load_settings


def test_defaults(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("ROUTEWATCH_") and k != "ROUTEWATCH_SHARED_DATA":
            monkeypatch.delenv(k)
    s = load_settings(tmp_path)
    assert s.data_dir == tmp_path
    assert s.index.backend == "sqlite"
    assert s.crawl.allow_hosts == []
    assert s.crawl.obey_robots is True
    assert s.crawl.concurrency_per_domain == 1
    assert s.privacy.pseudonymise_handles is True
    assert s.privacy.redact_contacts is True
    assert s.transcribe.backend == "faster_whisper.v1"
    assert s.transcribe.compute_type == "int8"


def test_data_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ROUTEWATCH_HOME", str(tmp_path / "home"))
    assert load_settings().data_dir == tmp_path / "home"


def test_toml_then_env_override(tmp_path, monkeypatch):
    (tmp_path / "routewatch.toml").write_text(
        '[index]\nbackend = "elasticsearch"\nes_url = "http://127.0.0.1:9200"\n'
        '[crawl]\nmax_pages_per_source = 7\n[[sources]]\nname = "tg"\nurls = ["https://t.me/s/x"]\n',
        encoding="utf-8")
    s = load_settings(tmp_path)
    assert s.index.backend == "elasticsearch"
    assert s.crawl.max_pages_per_source == 7
    assert [src.name for src in s.sources] == ["tg"]
    monkeypatch.setenv("ROUTEWATCH_INDEX_BACKEND", "sqlite")
    monkeypatch.setenv("ROUTEWATCH_ORIGIN_TELEGRAM", "http://127.0.0.1:8080")
    monkeypatch.setenv("ROUTEWATCH_ALLOW_HOSTS", "127.0.0.1:8080, 127.0.0.1:9000")
    s = load_settings(tmp_path)
    assert s.index.backend == "sqlite"
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
