"""Part 2: extraction posts/s, and on-screen text (OCR) speed and quality on ocr_dev."""


import json
import statistics
from typing import Any

from routewatch.bench.common import Progress, _noop


# ---- 2. extraction --------------------------------------------------------------------------------------
def bench_extraction(settings: Any, *, quick: bool, repeats: int) -> dict[str, Any]:
    import nlp
    from nlp.bench import posts_per_second

    extractor = nlp.build_extractor(settings=settings.extract)
    n = 300 if quick else 3000
    runs = [posts_per_second(n, extractor=extractor) for _ in range(repeats)]
    return {"posts": n, "repeats": repeats, "runs": [round(x, 1) for x in runs],
            "posts_per_s_per_core": round(statistics.median(runs), 1),
            "note": "posts per CPU-second of one process (nlp.bench.posts_per_second): per core"}


# ---- 2b. on-screen text (OCR) ----------------------------------------------------------------------------
OCR_QUICK = ("dev-001", "dev-010", "dev-024")


def ocr_extraction_scores(texts: dict[str, str], settings: Any = None) -> dict[str, Any]:
    """`annotate` on OCR texts, scored against gold_dev.jsonl for those ids (SPEC §5 scorer)."""
    import nlp
    from nlp import evaluate
    from ocr.evaluate import shared_data_dir

    gold_rows = [json.loads(x) for x in (shared_data_dir() / "gold_dev.jsonl").read_text(encoding="utf-8").splitlines()
                 if x.strip()]
    gold = [g for g in gold_rows if g["id"] in texts]
    ex = nlp.build_extractor(settings=settings.extract) if settings is not None else nlp.build_extractor()
    preds = [nlp.annotate_line({"id": g["id"], "text": texts[g["id"]]}, ex) for g in gold]
    scores = evaluate.score(gold, preds)
    return {f: scores[f]["f1"] for f in ("countries", "legs", "costs", "places", "relevant") if f in scores}


def bench_ocr(settings: Any, *, quick: bool, progress: Progress = _noop) -> dict[str, Any]:
    """The ocr stage on shared/data/ocr_dev beside the naive anchor, and extraction through it."""
    from ocr import OcrSettings
    from ocr.evaluate import evaluate, manifest

    rows = manifest()
    if quick:
        rows = [r for r in rows if r["id"] in OCR_QUICK]
    ocr_settings = getattr(settings, "ocr", None) or OcrSettings()
    progress("ocr", 0, 1)
    res = evaluate(ocr_settings, rows, naive=True)
    progress("ocr", 1, 1)
    out = dict(res["totals"])
    out["extraction_f1"] = ocr_extraction_scores({c["id"]: c.get("text", "") for c in res["clips"]}, settings)
    return out
