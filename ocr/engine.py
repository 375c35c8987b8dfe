"""The OCR engine behind the reader: RapidOCR's PP-OCR detector and recogniser on ONNX Runtime.

In: BGR frames (numpy) and crops of them.  Out: text boxes (`detect`) and (text, confidence) readings
(`recognise`). The models are the ONNX files shipped inside the pinned `rapidocr` wheel, checked against
their sha256 before loading; it never downloads anything (a missing or altered file is E701/E702).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from routewatch.core.errors import Code, NotConfigured

# The models inside rapidocr==3.10.0 (PP-OCRv6 small, Chinese + Latin): name → sha256.
MODEL_FILES: dict[str, str] = {
    "PP-OCRv6_det_small.onnx": "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    "PP-OCRv6_rec_small.onnx": "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
}
DET_MODEL, REC_MODEL = MODEL_FILES
MODEL_LABEL = "rapidocr PP-OCRv6 small (det+rec)"
_HINT = "install it with: pip install rapidocr==3.10.0 onnxruntime"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned text box in frame pixels (x0, y0) – (x1, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def y_overlap(self, other: Box) -> float:
        """Shared height over the smaller height (1.0: on the same text row)."""
        iy = max(0, min(self.y1, other.y1) - max(self.y0, other.y0))
        return iy / max(1, min(self.height, other.height))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@lru_cache(maxsize=1)
def model_paths() -> dict[str, Path]:
    """The shipped model files, each verified once per process against `MODEL_FILES`."""
    try:
        root = Path(str(resources.files("rapidocr").joinpath("models")))
    except ModuleNotFoundError:
        raise NotConfigured("the OCR engine rapidocr is not installed; " + _HINT, Code.E701) from None
    out: dict[str, Path] = {}
    for name, expected in MODEL_FILES.items():
        path = root / name
        if not path.is_file():
            raise NotConfigured(f"rapidocr is installed but lacks models/{name}; " + _HINT, Code.E701)
        if _sha256(path) != expected:
            raise NotConfigured(f"OCR model {name} failed its sha256 check; reinstall: " + _HINT, Code.E702)
        out[name] = path
    return out


def library_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


class RapidOcrEngine:
    """Detector + recogniser loaded once; `detect` and `recognise` are all the reader uses."""

    def __init__(self, threads: int = 2, det_side: int = 480):
        paths = model_paths()
        try:
            from rapidocr import RapidOCR
            from rapidocr.ch_ppocr_rec.typings import TextRecInput
        except ImportError as exc:  # pragma: no cover - checked by model_paths first
            raise NotConfigured(f"rapidocr cannot be imported ({exc}); " + _HINT, Code.E701) from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        params = {
            "Global.log_level": "warning",
            "Global.use_cls": False,  # captions are upright; the angle classifier only costs time
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.model_path": str(paths[DET_MODEL]),
            "Det.limit_side_len": det_side,
            "Det.limit_type": "max",
            "Rec.model_path": str(paths[REC_MODEL]),
        }
        try:
            self._ocr = RapidOCR(params=params)
            # rapidocr loads lazily; load both now so a broken install fails here, not mid-video.
            self._det = self._ocr._load_det_model()
            self._rec = self._ocr._load_rec_model()
        except Exception as exc:
            raise NotConfigured(f"the OCR models could not be loaded: {exc}", Code.E701) from None
        self._rec_input = TextRecInput
        self.sha256 = {name: MODEL_FILES[name] for name in paths}
        self.version = library_version("rapidocr")

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Text boxes of a BGR frame, as axis-aligned rectangles clipped to the frame."""
        res = self._det(frame)
        if res.boxes is None or len(res.boxes) == 0:
            return []
        h, w = frame.shape[:2]
        out = []
        for quad in res.boxes:
            xs, ys = quad[:, 0], quad[:, 1]
            box = Box(max(0, int(xs.min())), max(0, int(ys.min())), min(w, int(np.ceil(xs.max()))),
                      min(h, int(np.ceil(ys.max()))))
            if box.height >= 6 and box.width >= 6:
                out.append(box)
        return out

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) for each crop, in order."""
        if not crops:
            return []
        res = self._rec(self._rec_input(img=crops))
        txts = res.txts or ()
        scores = res.scores or ()
        return [(str(t), float(s)) for t, s in zip(txts, scores, strict=False)]
