"""What only the Elasticsearch backend has: set-up errors, explicit mappings, dead letters, retries on
429, the atomic rebuild behind an alias, and an outage in the middle of an indexing run."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from index_helpers import contract_corpus, doc, es_cleanup

from index import elastic
from index.base import Query
from index.elastic import ElasticIndex
from index.settings import IndexSettings
from routewatch.core.errors import NotConfigured, RouteWatchError


def settings(url: str, name: str) -> IndexSettings:
    return IndexSettings(backend="elasticsearch", es_url=url, es_index=name)


@pytest.fixture
def es_index(es_node, request):
    """A fresh index family named after the test; removed afterwards."""
    name = "rwtest-" + request.node.name.lower().replace("_", "-")[:40]
    es_cleanup(es_node.url, name)
    yield name
    es_cleanup(es_node.url, name)


def test_no_url_is_E902():
    with pytest.raises(NotConfigured) as ei:
        ElasticIndex(IndexSettings(backend="elasticsearch", es_url=""))
    assert ei.value.code.value == "E902"
    assert "ROUTEWATCH_ES_URL" in ei.value.reason


def test_unreachable_node_is_E503():
    with pytest.raises(NotConfigured) as ei:
        ElasticIndex(settings("http://127.0.0.1:1", "rwtest-nowhere"))
    assert ei.value.code.value == "E503"


@pytest.mark.es
def test_build_index_picks_elasticsearch(es_node, es_index):
    from index.build import build_index

    idx = build_index(settings(es_node.url, es_index), "/nonexistent/catalog.sqlite")
    try:
        assert idx.name == "elasticsearch.v1"
        assert idx.count() == 0
    finally:
        idx.close()


@pytest.mark.es
def test_mappings_are_explicit(es_node, es_index):
    idx = ElasticIndex(settings(es_node.url, es_index))
    try:
        idx.upsert([doc("e", "视频", transcript=["我们从上海出发", "然后到了厄瓜多尔的基多"], route=("CN", "EC"))])
        (mapping,) = idx.es.indices.get_mapping(index=es_index).body.values()
    finally:
        idx.close()
    props = mapping["mappings"]["properties"]
    assert mapping["mappings"]["dynamic"] == "strict"
    assert props["posted_at"]["type"] == props["captured_at"]["type"] == "date"
    assert props["countries"]["type"] == props["route"]["type"] == props["legs"]["type"] == "keyword"
    assert props["costs"]["type"] == "nested"
    units = props["units"]
    assert units["type"] == "nested"
    assert units["properties"]["text"]["fields"]["raw"]["type"] == "keyword"
    assert units["properties"]["segments"]["type"] == "nested"
    assert units["properties"]["segments"]["properties"]["start"]["type"] == "double"


@pytest.mark.es
def test_existing_index_with_the_alias_name_is_E902(es_node, es_index):
    from elasticsearch import Elasticsearch

    es = Elasticsearch(es_node.url)
    es.indices.create(index=es_index)
    try:
        with pytest.raises(NotConfigured) as ei:
            ElasticIndex(settings(es_node.url, es_index))
        assert ei.value.code.value == "E902"
    finally:
        es.indices.delete(index=es_index)
        es.close()


@pytest.mark.es
def test_rejected_documents_are_dead_lettered(es_node, es_index):
    idx = ElasticIndex(settings(es_node.url, es_index))
    try:
        docs = [doc("ok1", "厄瓜多尔"), doc("baddate", "x", posted="yesterday"),
                doc("huge", "y", platform="p" * 40000), doc("ok2", "darien")]
        res = idx.upsert(docs)
        assert res.indexed == 2
        assert sorted((pid, code) for pid, code, _ in res.failed) == [("baddate", "E504"), ("huge", "E504")]
        assert res.indexed + len(res.failed) == len(docs)
        reason = dict((pid, why) for pid, _, why in res.failed)["huge"]
        assert "HTTP 400" in reason
        assert idx.count() == 2
    finally:
        idx.close()


class BulkRejectingProxy:
    """Forwards every request to the node, but answers the first `reject` bulk requests with HTTP 429."""

    def __init__(self, target: str, reject: int):
        self.target = urlsplit(target)
        self.reject = reject
        self.bulk_calls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/_bulk" in self.path:
                    proxy.bulk_calls += 1
                    if proxy.bulk_calls <= proxy.reject:
                        err = {"type": "es_rejected_execution_exception", "reason": "queue full (test proxy)"}
                        out = json.dumps({"error": {**err, "root_cause": [err]}, "status": 429}).encode()
                        self.send_response(429)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("X-Elastic-Product", "Elasticsearch")
                        self.send_header("Content-Length", str(len(out)))
                        self.end_headers()
                        self.wfile.write(out)
                        return
                conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.es
def test_bulk_429_is_retried(es_node, es_index):
    proxy = BulkRejectingProxy(es_node.url, reject=3)
    idx = ElasticIndex(settings(proxy.url, es_index))
    try:
        res = idx.upsert(contract_corpus())
        assert (res.indexed, res.failed) == (10, ())
        assert proxy.bulk_calls == 4  # three refusals, then the accepted one
        assert idx.count() == 10
    finally:
        idx.close()
        proxy.close()


@pytest.mark.es
def test_bulk_429_beyond_the_retries_is_dead_lettered(es_node, es_index, monkeypatch):
    monkeypatch.setattr(elastic, "BULK_RETRIES", 1)
    proxy = BulkRejectingProxy(es_node.url, reject=10**6)
    idx = ElasticIndex(settings(proxy.url, es_index))
    try:
        res = idx.upsert(contract_corpus()[:3])
        assert res.indexed == 0
        assert [(pid, code) for pid, code, _ in res.failed] == [("a", "E504"), ("b", "E504"), ("c", "E504")]
        assert all("HTTP 429" in why for _, _, why in res.failed)
    finally:
        idx.close()
        proxy.close()


@pytest.mark.es
def test_rebuild_swaps_in_atomically(es_node, es_index):
    writer = ElasticIndex(settings(es_node.url, es_index))
    writer.upsert(contract_corpus())
    writer.close()
    writer = ElasticIndex(settings(es_node.url, es_index))
    reader = ElasticIndex(settings(es_node.url, es_index))
    try:
        writer.clear()
        writer.upsert([doc("n1", "新的厄瓜多尔"), doc("n2", "otra vez")])
        assert writer.count() == 2
        # Until the writer is done, readers see the complete old index.
        assert len(reader.search(Query(limit=100))) == 10
        assert sorted(h.post_id for h in reader.search(Query("厄瓜多尔"))) == ["a", "b", "e"]
        writer.close()
        assert sorted(h.post_id for h in reader.search(Query("厄瓜多尔"))) == ["n1"]
        assert reader.count() == 2
        assert len(reader.es.indices.get(index=f"{es_index}-0*").body) == 1  # the old generation is gone
    finally:
        writer.close()
        reader.close()


@pytest.mark.es
@pytest.mark.slow
def test_outage_mid_run_loses_nothing(es_node, es_index, tmp_path):
    """The node stops in the middle of `routewatch index`; every post ends indexed or recorded as a
    failure, and the next run after the restart indexes the rest. When $ROUTEWATCH_ES_URL names a node
    this test must not stop (as in CI), it starts a private node of its own for this."""
    if not es_node.managed:
        from index_helpers import in_ci, private_node

        try:
            es_node = private_node()
        except RuntimeError as e:
            if in_ci():
                pytest.fail(str(e))
            pytest.skip(str(e))
    try:
        _outage_run(es_node, es_index, tmp_path)
    finally:
        if es_node.env is not None:  # the private node: stopped again
            es_node.stop()


def _outage_run(es_node, es_index, tmp_path):
    import time

    from routewatch.core.catalog import Catalog
    from routewatch.core.records import CountryMention, Extraction, Post, post_id_for
    from routewatch.pipeline import Context, caption_unit, stage_index
    from routewatch.settings import Settings

    n = 3000
    cat = Catalog(tmp_path / "catalog.sqlite")
    with cat.tx():
        for k in range(n):
            pid = post_id_for("telegram", f"chan/{k}")
            post = Post(post_id=pid, platform="telegram", platform_id=f"chan/{k}", url=f"https://t.me/chan/{k}",
                        source="test", caption=f"第{k}天 走线 厄瓜多尔 darien {k}", lang="zh",
                        posted_at=f"2026-11-{1 + k % 28:02d}T08:00:00Z", captured_at="2026-12-01T00:00:00Z")
            cat.upsert_post(post)
            cat.put_unit(caption_unit(post))
            cat.save_extraction(Extraction(post_id=pid, unit_id="", relevant=True,
                                           countries=(CountryMention("EC"), CountryMention("CO")), route=("EC", "CO")),
                                "{}")
    s = Settings(data_dir=tmp_path, index=settings(es_node.url, es_index))
    first_batch = threading.Event()

    def progress(stage, done, total):
        first_batch.set()
        time.sleep(0.2)  # a slower run, so the node goes down while batches are still being sent

    outcome: dict = {}

    def run():
        try:
            outcome["report"] = stage_index(Context(s, cat, progress))
        except RouteWatchError as e:  # the closing document count cannot reach the node either
            outcome["error"] = e

    worker = threading.Thread(target=run)
    try:
        worker.start()
        assert first_batch.wait(120)
        es_node.stop()
        worker.join(600)
        assert not worker.is_alive()
        if "error" in outcome:
            assert outcome["error"].code.value == "E503"
        done = cat.db.execute("SELECT COUNT(*) FROM stage_status WHERE stage='index' AND status='done'").fetchone()[0]
        failures = cat.failures("index")
        assert 200 <= done < n
        assert done + len(failures) == n  # indexed + dead-lettered/unavailable = input
        assert {f.code for f in failures} <= {"E503", "E504"}
    finally:
        es_node.start()
    idx = ElasticIndex(settings(es_node.url, es_index))
    try:
        assert done <= idx.count() <= n  # a batch cut off mid-request may be in without its answer
        # What the catalog kept as failed is exactly what is missing: indexing it completes the index.
        from routewatch.pipeline import iter_docs

        res = idx.upsert(iter_docs(cat, [f.item_id for f in failures]))
        assert (res.indexed, res.failed) == (len(failures), ())
        assert idx.count() == n
        assert len(idx.search(Query("darien", limit=1000))) == 1000
    finally:
        idx.close()
    try:
        rep = stage_index(Context(s, cat))  # the next run
        left = cat.failures("index")
    finally:
        cat.close()
    assert (rep.done, rep.failed, left) == (len(failures), 0, [])
