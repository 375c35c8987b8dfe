"""The on-screen text (ocr) stage: burned-in captions of a video as timed, searchable text.

In: local video files.  Out: `routewatch.core.records.OnscreenText` through `OnscreenReader.read`, and
`ocr-file` JSON lines through `ocr_files`. Imports only core modules of `routewatch`.
"""

from .file_cli import ocr_files, to_line
from .reader import OnscreenReader
from .settings import OcrSettings

__all__ = ["OcrSettings", "OnscreenReader", "ocr_files", "to_line"]
