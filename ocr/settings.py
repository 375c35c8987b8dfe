"""Settings of the on-screen text (ocr) stage, declared next to its code (CONVENTIONS §4).

In: values from the project's settings object (TOML / ROUTEWATCH_* env) or keyword arguments.
Out: one validated, frozen `OcrSettings`. Never touches the disk or the network.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from routewatch.core.sections import Section


class OcrSettings(Section):
    """What the on-screen reader runs with; every field ends up in the result's provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, protected_namespaces=())

    enabled: bool = True  # run the ocr stage in `routewatch run`
    reader: str = "rapidocr.v1"
    threads: int = Field(2, ge=1, le=64)  # ONNX Runtime intra-op threads
    fps: float = Field(2.0, gt=0.0, le=12.0)  # frames sampled per video second
    max_frames: int = Field(600, ge=1)  # frame budget per video: long videos are sampled more sparsely
    max_width: int = Field(720, ge=160)  # frames are scaled down to at most this width (4K → 720)
    det_side: int = Field(480, ge=160)  # longest side of the image the detector sees
    min_confidence: float = Field(0.6, ge=0.0, le=1.0)  # recognitions below this are ignored
    same_line_ratio: float = Field(0.6, ge=0.0, le=1.0)  # edit similarity that makes two readings one line
    persistent_share: float = Field(0.85, gt=0.0, le=1.0)  # shown this share of the video: a title
    max_video_seconds: float = Field(3600.0, gt=0.0)  # longer: E705
    timeout_s: float = Field(300.0, gt=0.0)  # wall time for one video: E706
    normalise_zh: bool = True  # Traditional → Simplified (OpenCC t2s); raw text is kept
