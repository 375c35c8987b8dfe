"""Extraction throughput for the benchmark suite (SPEC §7: posts/second per core).

In: nothing (a built-in corpus of typical captions in Chinese, English, Spanish and mixed), or an
extractor and texts. Out: posts per second of CPU time of this process, i.e. on one core, whatever
else the machine runs. Must never touch the network or the catalog.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from routewatch.core.records import TextUnit

from .extractor import Extractor

# Typical posts: route stories, prices, bribes, advice, and the hard negatives the classifier rejects.
TYPICAL = (
    "上海出发，经伊斯坦布尔转机到基多，机票{n}千八。第二天坐大巴去图尔坎，过桥到伊皮亚莱斯。#走线 #润",
    "麦德林去内科克利的路上，警察检查站要每人{n}万比索，说不给就送移民局。塞了钱立马放行。#哥伦比亚 #走线",
    "丛林里请了个挑夫背包，一天一百美金，带路的另外收一百{n}十刀。第二天下大雨，路全是泥。#达连 #走线",
    "Istanbul to Quito, bus to Tulcán, then the jungle for {n} days. Guide in Capurganá charged $250. #zouxian",
    "En el retén de Juchitán la Guardia Nacional nos pidió 'para el refresco'. Les dimos {n}00 pesos entre todos.",
    "Mexico 这段 budget 至少准备 {n}k 刀，因为 policía 每个 checkpoint 都要 'para el refresco'，一次大概 30 刀。",
    "國內翻牆看油管，梯子一個月{n}5塊，最近老斷線。有沒有穩定的推薦？#翻牆 #VPN",
    "PCB走线宽度{n}mil，高速信号线要做阻抗匹配和等长。#硬件设计",
    "10 days in Panama: canal visit at Miraflores (${n}0), island hopping and birdwatching. #travel",
    "拉哈斯布兰卡斯到哥斯达黎加边境的大巴四十刀，上车前巴拿马移民局录指纹拍照，全程没人要钱。{n}",
    "投案后在圣地亚哥的处理中心关了三天，出来拿到NTA。走线四十七天，总共花了{n}二万人民币。",
    "Los chinos pagan el triple por el bus de Tapachula a la Ciudad de México: a mí {n},500 pesos.",
)


def corpus(size: int) -> list[str]:
    """`size` texts cycling through TYPICAL with varying numbers (so no two neighbours are equal)."""
    return [TYPICAL[i % len(TYPICAL)].format(n=(i // len(TYPICAL)) % 9 + 1) for i in range(size)]


def posts_per_second(n: int = 3000, extractor: Extractor | None = None, texts: Sequence[str] | None = None) -> float:
    """Extract `n` typical posts (after a warm-up) and return posts per CPU-second of this process."""
    if extractor is None:
        from . import build_extractor

        extractor = build_extractor()
    items = list(texts) if texts is not None else corpus(n)
    units = [TextUnit(unit_id=f"b{i}:caption", post_id=f"b{i}", kind="caption", text=t) for i, t in enumerate(items)]
    for u in units[: min(len(units), 50)]:
        extractor.extract(u)  # warm-up: pipelines built, caches filled
    t0 = time.process_time()
    for u in units:
        extractor.extract(u)
    elapsed = time.process_time() - t0
    return len(units) / elapsed if elapsed > 0 else float("inf")
