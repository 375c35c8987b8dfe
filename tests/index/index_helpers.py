"""Factories for the index tests: IndexDocs, the contract corpus, a seeded synthetic corpus, and a
handle on the local Elasticsearch node (`scripts/es.sh`). Builds data only; never touches the catalog."""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from index.base import DEFAULT_MIN_CONFIDENCE, IndexDoc, PostFacts
from routewatch.core.records import Segment, TextUnit

REPO = Path(__file__).resolve().parents[2]
ES_SH = REPO / "scripts" / "es.sh"


def unit(pid: str, kind: str, text: str, segs=()) -> TextUnit:
    return TextUnit(unit_id=f"{pid}:{kind}", post_id=pid, kind=kind, text=text, segments=tuple(segs))


def doc(pid, caption, route=(), posted="2026-11-02T08:00:00Z", platform="telegram", lang="zh", transcript=None,
        costs=(), bribe=False, relevant=True, countries=None) -> IndexDoc:
    units = [unit(pid, "caption", caption)]
    if transcript:
        segs = [Segment(float(i * 3), float(i * 3 + 3), t) for i, t in enumerate(transcript)]
        units.append(unit(pid, "transcript", TextUnit.join_segments(segs), segs))
    return IndexDoc(post_id=pid, platform=platform, url=f"https://x/{pid}", posted_at=posted, captured_at=posted,
                    lang=lang, source="t", units=tuple(units), relevant=relevant,
                    countries=tuple(sorted(set(route))) if countries is None else tuple(countries),
                    route=tuple(route), costs=tuple(costs), has_bribe=bribe)


def contract_corpus() -> list[IndexDoc]:
    """Ten posts in zh (simplified and traditional), en and es; weeks 2026-W40, W45 and W46."""
    return [
        doc("a", "先飞土耳其再到厄瓜多尔", route=("CN", "TR", "EC")),
        doc("b", "哥倫比亞到巴拿馬，厄瓜多爾出發", route=("EC", "CO", "PA"), posted="2026-10-01T00:00:00Z"),
        doc("c", "Cruzamos el Darién en cinco días por la selva", route=("EC", "CO", "CR", "PA"), lang="es",
            platform="web", costs=((300.0, "USD", "guide"),)),
        doc("d", "the Darien gap took three days", route=("CO", "EC", "PA"), lang="en", platform="youtube",
            costs=((1200.0, "USD", "guide"),), bribe=True),
        doc("e", "视频", transcript=["我们从上海出发", "然后到了厄瓜多尔的基多"], route=("CN", "EC")),
        doc("f", "Pagamos mordida a la policía en México: 200 dólares", route=("MX", "US"), lang="es",
            platform="tiktok", posted="2026-11-10T12:00:00Z", costs=((200.0, "USD", "bribe"),), bribe=True),
        doc("g", "走线美墙，蛇头收费两万五", route=("EC", "MX", "US"), platform="douyin", posted="2026-11-12T01:00:00Z",
            costs=((25000.0, "CNY", "guide"),)),
        doc("h", "Ecuador visa requirements explained", lang="en", platform="youtube", relevant=False,
            posted="2026-11-11T09:00:00Z"),
        doc("i", "雨林里走了三天，真的很难", route=("CO", "PA"), posted="2026-11-03T23:30:00Z",
            transcript=["第一天下雨", "第二天过河", "第三天到了巴拿马"]),
        doc("j", "Nos pidieron la mordida en Guatemala, y la policia se llevó todo", route=("GT", "MX"), lang="es",
            platform="tiktok", posted="2026-11-13T08:00:00Z", bribe=True),
    ]


_WORDS = {
    "zh": ["走线", "雨林", "蛇头", "美墙", "免签", "厄瓜多尔", "哥伦比亚", "巴拿马", "墨西哥", "基多", "黑警", "买路钱",
           "坐大巴", "三天", "很累", "我们", "出发", "过河", "哥倫比亞", "厄瓜多爾"],
    "en": ["jungle", "coyote", "visa", "Darien", "Darién", "border", "wall", "bus", "three", "days", "police",
           "Ecuador", "Colombia", "Panama", "guide"],
    "es": ["selva", "coyote", "mordida", "Darién", "policía", "policia", "frontera", "días", "dias", "autobús",
           "México", "Mexico", "guía", "visa"],
}
_ROUTE = ["CN", "TR", "EC", "CO", "PA", "CR", "NI", "HN", "GT", "MX", "US"]


def synthetic_corpus(n: int = 300, seed: int = 7) -> list[IndexDoc]:
    """n posts with seeded random words, routes, dates (2026-09 to 2027-01), platforms, costs and bribes."""
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        lang = rnd.choice(["zh", "en", "es"])
        words = _WORDS[lang]
        sep = "" if lang == "zh" else " "
        caption = sep.join(rnd.choice(words) for _ in range(rnd.randint(2, 8)))
        transcript = None
        if rnd.random() < 0.4:
            transcript = [sep.join(rnd.choice(words) for _ in range(rnd.randint(1, 4))) for _ in range(rnd.randint(1, 4))]
        route = tuple(_ROUTE[i] for i in sorted(rnd.sample(range(len(_ROUTE)), rnd.randint(0, 5))))
        if rnd.random() < 0.1:  # some routes out of order
            route = tuple(rnd.sample(route, len(route)))
        when = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(minutes=rnd.randint(0, 140 * 24 * 60))
        posted = when.strftime("%Y-%m-%dT%H:%M:00Z")
        costs = ()
        if rnd.random() < 0.3:
            costs = ((float(rnd.choice([100, 200, 300, 1200, 5000, 25000])), rnd.choice(["USD", "CNY"]),
                      rnd.choice(["guide", "bribe", "transport"])),)
        out.append(doc(f"s{k:04d}", caption, route=route, posted=posted, lang=lang, transcript=transcript,
                       platform=rnd.choice(["telegram", "youtube", "tiktok", "douyin", "web"]), costs=costs,
                       bribe=rnd.random() < 0.2, relevant=rnd.random() < 0.85))
    return out


def es_sh(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ES_SH), *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


@dataclass
class EsNode:
    """The test node: `managed` when this session (not the user) controls it through scripts/es.sh."""

    url: str
    managed: bool
    started_here: bool = False
    env: dict[str, str] | None = None  # ROUTEWATCH_ES_PORT / _DIR of a node other than the default one

    def stop(self) -> None:
        cp = es_sh("down", timeout=120, env=self.env)
        assert cp.returncode == 0, cp.stderr

    def start(self) -> None:
        cp = es_sh("up", env=self.env)
        assert cp.returncode == 0, cp.stderr[-2000:]
        assert cp.stdout.strip().splitlines()[-1] == self.url


def private_node(port: int = 9271) -> EsNode:
    """A second node of its own (own port, data and config; the distribution of `.es/` shared when it is
    there), for a test that must stop and restart a node while $ROUTEWATCH_ES_URL names one it must not
    touch. Its work dir is under the repo's `.es/` so that the unprivileged ES user can reach it."""
    work = REPO / ".es" / f"private-{port}"
    work.mkdir(parents=True, exist_ok=True)
    shared_dist = REPO / ".es" / "dist"
    if shared_dist.is_dir() and not (work / "dist").exists():
        (work / "dist").symlink_to(shared_dist, target_is_directory=True)
    env = {"ROUTEWATCH_ES_PORT": str(port), "ROUTEWATCH_ES_DIR": str(work)}
    cp = es_sh("up", env=env)
    lines = cp.stdout.strip().splitlines()
    if cp.returncode != 0 or not lines:
        raise RuntimeError(f"a private Elasticsearch node on port {port} did not start: {cp.stderr.strip()[-1500:]}")
    return EsNode(url=lines[-1], managed=True, started_here=True, env=env)


def es_cleanup(url: str, name: str) -> None:
    """Delete a test index family (generation indices and template) from the node."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(url, request_timeout=30)
    try:
        es.indices.delete(index=f"{name}-0*", ignore_unavailable=True, allow_no_indices=True)
        es.options(ignore_status=404).indices.delete_index_template(name=f"{name}-template")
    finally:
        es.close()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def conf_doc(pid, countries, route=(), posted="2026-11-02T08:00:00Z", relevant=True, costs=(), bribes=(), state="",
             caption=None) -> IndexDoc:
    """A post whose facts carry confidences (countries as {iso: confidence}, costs as (amount, currency,
    kind, confidence), bribes as confidences), the way build_doc reads them from the facts JSON."""
    facts = PostFacts(countries=tuple(countries.items()), route=tuple(route), costs=tuple(costs), bribes=tuple(bribes))
    view = facts.at(DEFAULT_MIN_CONFIDENCE)
    return IndexDoc(post_id=pid, platform="telegram", url=f"https://x/{pid}", posted_at=posted, captured_at=posted,
                    lang="zh", source="t", units=(unit(pid, "caption", caption or f"走线 {pid}"),), relevant=relevant,
                    countries=view.countries if relevant else (), route=view.route if relevant else (),
                    costs=view.costs if relevant else (), has_bribe=view.has_bribe and relevant, facts=facts,
                    state=state)


def confidence_corpus() -> list[IndexDoc]:
    """Five posts of 2026-W45 whose facts differ in confidence, relevance and recheck state."""
    return [
        # an ASR homophone: "Nicaragua" heard for a place, NI at 0.3 between EC and MX
        conf_doc("p1", {"CN": 0.9, "EC": 0.9, "NI": 0.3, "MX": 0.9}, route=("CN", "EC", "NI", "MX"),
                 costs=((3000.0, "USD", "guide", 0.9),), bribes=(0.4,)),
        # a hard negative (PCB impedance "一百欧"): irrelevant, its cost kept in the catalog
        conf_doc("p2", {}, relevant=False, costs=((100.0, "EUR", "other", 0.9),), posted="2026-11-03T08:00:00Z",
                 caption="阻抗一百欧"),
        conf_doc("p3", {"EC": 0.8, "CO": 0.8, "PA": 0.8}, route=("EC", "CO", "PA"), state="deleted",
                 posted="2026-11-04T08:00:00Z"),
        conf_doc("p4", {"CO": 0.95, "PA": 0.6}, route=("CO", "PA"), bribes=(0.9,), state="available",
                 posted="2026-11-05T08:00:00Z"),
        conf_doc("p5", {"PA": 0.9}, relevant=False, posted="2026-11-06T08:00:00Z", caption="巴拿马运河过路费"),
    ]


def synthetic_confidence_corpus(n: int = 300, seed: int = 11) -> list[IndexDoc]:
    """The synthetic corpus with a random confidence on every fact and random recheck states."""
    rnd = random.Random(seed)
    out = []
    for d in synthetic_corpus(n, seed):
        conf = {iso: round(rnd.choice([0.2, 0.35, 0.5, 0.62, 0.8, 0.95]), 2) for iso in d.route}
        costs = tuple((*c, rnd.choice([0.3, 0.5, 0.9])) for c in d.costs)
        bribes = (rnd.choice([0.4, 0.5, 0.85]),) if d.has_bribe else ()
        facts = PostFacts(countries=tuple(conf.items()), route=d.route, costs=costs, bribes=bribes)
        state = rnd.choice(["", "", "available", "deleted", "private", "geo_blocked", "account_gone"])
        out.append(dataclasses.replace(d, facts=facts, state=state))
    return out
