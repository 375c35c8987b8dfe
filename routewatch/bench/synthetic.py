"""Synthetic corpora for the index part (fixed seed, prefix-stable) and the queries measured on them."""


import random
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from index.base import IndexDoc, Query
from routewatch.bench.common import SEED
from routewatch.core.records import Segment, TextUnit

# ---- 3. synthetic corpora and the index --------------------------------------------------------------
CORRIDOR = ("CN", "EC", "CO", "PA", "CR", "NI", "HN", "GT", "MX", "US")
PLACES: dict[str, tuple[tuple[str, str], ...]] = {  # (Chinese, Latin as written with accents)
    "CN": (("上海", "Shanghai"), ("温州", "Wenzhou"), ("福州", "Fuzhou"), ("成都", "Chengdu")),
    "EC": (("基多", "Quito"), ("瓜亚基尔", "Guayaquil"), ("图尔坎", "Tulcán")),
    "CO": (("伊皮亚莱斯", "Ipiales"), ("麦德林", "Medellín"), ("内科克利", "Necoclí"), ("卡普尔加纳", "Capurganá"),
           ("波哥大", "Bogotá")),
    "PA": (("达连", "Darién"), ("巴霍奇基托", "Bajo Chiquito"), ("拉哈斯布兰卡斯", "Lajas Blancas"), ("梅特蒂", "Metetí")),
    "CR": (("帕索卡诺阿斯", "Paso Canoas"), ("圣何塞", "San José")),
    "NI": (("马那瓜", "Managua"),),
    "HN": (("特罗赫斯", "Trojes"), ("丹利", "Danlí")),
    "GT": (("危地马拉城", "Guatemala City"), ("特昆乌曼", "Tecún Umán")),
    "MX": (("塔帕丘拉", "Tapachula"), ("墨西哥城", "Ciudad de México"), ("胡奇坦", "Juchitán"), ("蒂华纳", "Tijuana")),
    "US": (("哈昆巴", "Jacumba"), ("圣地亚哥", "San Diego"), ("洛杉矶", "Los Angeles")),
}
COUNTRY_NAMES = {"CN": ("中国", "China", "China"), "EC": ("厄瓜多尔", "Ecuador", "Ecuador"),
                 "CO": ("哥伦比亚", "Colombia", "Colombia"), "PA": ("巴拿马", "Panama", "Panamá"),
                 "CR": ("哥斯达黎加", "Costa Rica", "Costa Rica"), "NI": ("尼加拉瓜", "Nicaragua", "Nicaragua"),
                 "HN": ("洪都拉斯", "Honduras", "Honduras"), "GT": ("危地马拉", "Guatemala", "Guatemala"),
                 "MX": ("墨西哥", "Mexico", "México"), "US": ("美国", "the US", "Estados Unidos")}
SENTENCES = {  # {a} {b}: places, {x} {y}: country names, {amt}: amount, {n}: small number
    "zh": ("从{a}坐大巴到{b}，一个人{amt}美金。", "在{a}过检查站，警察要每人{amt}美金，给了才放行。",
           "{a}到{b}这段走了{n}天，带路的向导收{amt}刀。", "走线第{n}天，到了{a}，明天去{b}。",
           "机票{amt}块，从{a}转机飞{x}。", "{x}免签，落地就能入境，然后去{y}。", "雨林里下大雨，路全是泥，挑夫一天一百美金。",
           "移民局门口有人说给{amt}美金可以插队，我们没给。", "国民警卫队查车，每人要{amt}美金，不给就不让走。",
           "在{a}等了{n}天才拿到离境通知，再坐车去{b}。"),
    "en": ("Took the bus from {a} to {b}, {amt} dollars each.", "At the checkpoint near {a} the police asked for "
           "{amt} dollars, we paid to pass.", "Day {n} of the journey: made it to {a}, heading to {b} tomorrow.",
           "The guide in {a} charged ${amt} to cross into {y}.", "Crossed the Darien Gap in {n} days, mud everywhere.",
           "{x} was visa free for us, flew into {a} and went on to {y}.", "Soldiers stopped the bus outside {a} and "
           "took {amt} dollars from everyone.", "We waited {n} days in {a} for the permit."),
    "es": ("Salimos de {a} hacia {b} en bus, {amt} dólares por persona.", "En el retén de {a} la policía nos pidió "
           "{amt} pesos para el refresco.", "Cruzamos la selva del Darién en {n} días, el guía cobró {amt} dólares.",
           "Día {n}: llegamos a {a}, mañana vamos a {b}.", "La Guardia Nacional nos paró en {a} y pagamos {amt} pesos.",
           "En {x} la migración nos dio el permiso en {n} días, luego seguimos a {y}.",
           "El lanchero de {a} cobró {amt} dólares por persona."),
}
NEGATIVES = {
    "zh": ("缝纫机走线不均匀，先检查底线和面线的松紧。", "PCB走线宽度{n}mil，高速信号线要做阻抗匹配和等长。",
           "{a}旅游攻略，住了{n}晚，酒店很便宜。", "国内翻墙看油管，梯子一个月{n}5块。"),
    "en": ("{n} days in {a}: museums, food and a great hostel. #travel", "Watching the match in {a} tonight.",
           "Columbia University rent near campus is {amt} dollars a month."),
    "es": ("Qué partido en {a}, Colombia ganó {n} a 1.", "Vacaciones en {a}: playa y comida rica.",
           "El alquiler en {a} subió a {amt} pesos."),
}
TAGS = {"zh": ("#走线", "#润", "#润学", "#美墙", "#厄瓜多尔免签"), "en": ("#zouxian", "#darien", "#border"),
        "es": ("#darien", "#migración", "#ruta")}
PLATFORMS = ("tiktok", "douyin", "youtube", "telegram", "bilibili")
CORPUS_START = datetime(2024, 7, 1, tzinfo=UTC)
CORPUS_DAYS = 730


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


def _place(rng: random.Random, country: str, lang: str) -> str:
    zh, latin = rng.choice(PLACES[country])
    if lang == "zh":
        return zh if rng.random() > 0.05 else latin  # code-switching
    return latin if rng.random() > 0.3 else _strip_accents(latin)  # people drop accents


def _sentence(rng: random.Random, lang: str, route: Sequence[str], negative: bool) -> tuple[str, float | None]:
    """One sentence and the amount it quotes (if any)."""
    tpl = rng.choice(NEGATIVES[lang] if negative else SENTENCES[lang])
    if negative or not route:
        a = _place(rng, rng.choice(CORRIDOR[1:]), lang)
        b, x, y = a, "", ""
    else:
        i = rng.randrange(len(route) - 1)
        j = i + 1
        a, b = _place(rng, route[i], lang), _place(rng, route[j], lang)
        li = {"zh": 0, "en": 1, "es": 2}[lang]
        x, y = COUNTRY_NAMES[route[i]][li], COUNTRY_NAMES[route[j]][li]
    amt = rng.choice((15, 20, 40, 50, 85, 100, 150, 200, 250, 300, 500, 800, 1000, 1500, 2500, 8000))
    text = tpl.format(a=a, b=b, x=x, y=y, n=rng.randint(2, 9), amt=amt)
    return text, (float(amt) if "{amt}" in tpl else None)


def synthetic_doc(rng: random.Random, i: int) -> IndexDoc:
    """Post number `i` of a synthetic corpus: zh/en/es caption (+ transcript) over 2 years."""
    lang = rng.choices(("zh", "en", "es"), weights=(5, 2, 3))[0]
    negative = rng.random() < 0.2
    route: tuple[str, ...] = ()
    if not negative:
        start = rng.randint(0, 7)
        length = rng.randint(2, min(6, len(CORRIDOR) - start))
        route = CORRIDOR[start:start + length]
    pid = f"syn-{i:07d}"
    posted = CORPUS_START + timedelta(seconds=int(CORPUS_DAYS * 86400 * rng.random() ** 0.8))
    costs: list[tuple[float, str, str]] = []
    has_bribe = False
    cap_parts = []
    for _ in range(rng.randint(1, 2)):
        s, amt = _sentence(rng, lang, route, negative)
        cap_parts.append(s)
        if amt is not None and not negative:
            bribe = any(w in s for w in ("警察", "警卫队", "police", "policía", "Soldiers", "Guardia"))
            has_bribe = has_bribe or bribe
            cur = "CNY" if "块" in s else ("MXN" if "pesos" in s else "USD")
            costs.append((amt, cur, "bribe" if bribe else rng.choice(("transport", "guide", "total"))))
    if not negative:
        cap_parts.append(" ".join(rng.sample(TAGS[lang], 2)))
    caption = ("" if lang == "zh" else " ").join(cap_parts)
    units = [TextUnit(unit_id=f"{pid}:caption", post_id=pid, kind="caption", text=caption, lang=lang)]
    if rng.random() < 0.6:  # a spoken transcript with timed segments
        segs, t = [], 0.0
        for _ in range(rng.randint(3, 6)):
            s, _amt = _sentence(rng, lang, route, negative)
            d = 2.0 + len(s) * (0.25 if lang == "zh" else 0.07)
            segs.append(Segment(round(t, 2), round(t + d, 2), s))
            t += d + 0.3
        seg_t = tuple(segs)
        units.append(TextUnit(unit_id=f"{pid}:transcript:bench", post_id=pid, kind="transcript",
                              text=TextUnit.join_segments(seg_t), lang=lang, segments=seg_t))
    platform_ = rng.choice(PLATFORMS)
    iso = posted.strftime("%Y-%m-%dT%H:%M:%SZ")
    return IndexDoc(
        post_id=pid, platform=platform_, url=f"https://{platform_}.example/{pid}", posted_at=iso, captured_at=iso,
        lang=lang, source=f"bench:{platform_}", units=tuple(units), relevant=not negative,
        countries=tuple(sorted(set(route) - {"CN"})), route=route, has_bribe=has_bribe, costs=tuple(costs),
    )


def synthetic_docs(start: int, stop: int, seed: int = SEED, chunk: int = 10_000) -> Iterator[IndexDoc]:
    """Posts start..stop-1 of the corpus; chunk k always comes from Random(seed, k): prefixes agree."""
    for k in range(start // chunk, (stop + chunk - 1) // chunk):
        rng = random.Random(f"{seed}:{k}")  # noqa: S311 - a reproducible corpus, not secrets
        for i in range(k * chunk, (k + 1) * chunk):
            doc = synthetic_doc(rng, i)  # drawn even when skipped, so post i is the same in every run
            if start <= i < stop:
                yield doc


def search_queries() -> list[tuple[str, Query]]:
    """The query mix: (category, query)."""
    return [
        ("zh_3plus", Query(text="厄瓜多尔")), ("zh_3plus", Query(text="内科克利")), ("zh_3plus", Query(text="检查站")),
        ("zh_3plus", Query(text="塔帕丘拉")),
        ("zh_2char", Query(text="走线")), ("zh_2char", Query(text="达连")), ("zh_2char", Query(text="警察")),
        ("latin_plain", Query(text="Darien")), ("latin_plain", Query(text="Necocli")),
        ("latin_plain", Query(text="checkpoint")), ("latin_plain", Query(text="Tapachula")),
        ("latin_accents", Query(text="Darién")), ("latin_accents", Query(text="policía")),
        ("latin_accents", Query(text="Tecún Umán")),
        ("phrase", Query(text='"para el refresco"')), ("phrase", Query(text='"Darien Gap"')),
        ("phrase", Query(text='"一个人"')),
        ("filter_country", Query(text="guide", country="PA")), ("filter_country", Query(text="大巴", country="MX")),
        ("filter_route", Query(route=("EC", "CO", "PA"))), ("filter_route", Query(text="Necoclí", route=("EC", "CO", "PA"))),
        ("filter_date", Query(text="Darién", since="2025-03-01", until="2025-05-31")),
        ("filter_date", Query(since="2026-01-01", until="2026-01-31")),
        ("filter_cost", Query(min_cost=100, max_cost=500, currency="USD")),
        ("filter_cost", Query(text="guía", min_cost=200, currency="USD", country="PA")),
        ("filter_combined", Query(text="警察", route=("GT", "MX"), has_bribe=True, since="2025-01-01")),
    ]


def trend_queries() -> list[tuple[str, str, Query | None]]:
    """(field, by, filter) of the weekly trends measured."""
    return [("country", "week", None), ("leg", "week", None),
            ("country", "week", Query(since="2025-07-01", until="2026-06-30")),
            ("leg", "week", Query(country="PA"))]


def _describe(q: Query) -> str:
    parts = [q.text] if q.text else []
    for k in ("country", "platform", "lang", "since", "until", "min_cost", "max_cost", "currency"):
        v = getattr(q, k)
        if v is not None:
            parts.append(f"{k}={v}")
    if q.route:
        parts.append("route=" + ">".join(q.route))
    if q.has_bribe:
        parts.append("has_bribe")
    return " ".join(parts)
