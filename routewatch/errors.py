"""One catalogue of stable error codes (CONVENTIONS §10).

Every failure row, log line, API error and digest "skipped" table carries one of these codes.
Tests assert on codes, never on wording. Add new codes at the end of their block; never renumber.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # E1xx crawl / discovery
    E101 = "E101"  # HTTP error fetching a page or feed
    E102 = "E102"  # robots.txt forbids the URL (or robots.txt unreachable)
    E103 = "E103"  # address refused by the private-network guard (SSRF)
    E104 = "E104"  # malformed page, feed or import record
    E105 = "E105"  # network time-out or connection refused
    E106 = "E106"  # no crawler claims this URL
    E107 = "E107"  # rate limited (429/503) and retries exhausted
    # E2xx media fetch and decode
    E201 = "E201"  # media longer than max_audio_seconds
    E202 = "E202"  # media larger than max_media_bytes
    E203 = "E203"  # media download failed
    E204 = "E204"  # media corrupt or not decodable
    E205 = "E205"  # media has no audio stream
    E206 = "E206"  # media file empty (0 bytes)
    E207 = "E207"  # post has no media
    E208 = "E208"  # playlist/manifest where a media file was expected
    E209 = "E209"  # writing the media file failed (disk full, read-only)
    # E3xx transcription
    E301 = "E301"  # no ASR model available
    E302 = "E302"  # transcription failed
    E303 = "E303"  # model file failed its sha256 check
    E304 = "E304"  # device = "cuda" but no CUDA device (or CTranslate2 without CUDA)
    # E4xx extraction
    E401 = "E401"  # extraction failed on a text unit
    # E5xx index / search
    E501 = "E501"  # index write failed
    E502 = "E502"  # query could not be parsed (after sanitising)
    E503 = "E503"  # index backend unavailable
    E504 = "E504"  # document rejected by the index (dead-lettered)
    # E6xx imports
    E601 = "E601"  # import line not valid JSON / CSV row malformed
    E602 = "E602"  # import item lacks the fields needed for a post
    # E9xx operations
    E901 = "E901"  # data dir locked by another routewatch process
    E902 = "E902"  # bad configuration
    E903 = "E903"  # bad command-line input
    E904 = "E904"  # not found (web / API)
    E905 = "E905"  # rate limited (web / API)
    E906 = "E906"  # internal error of the web app


class RouteWatchError(Exception):
    """An expected, user-facing failure with a stable code."""

    def __init__(self, code: Code | str, reason: str):
        self.code = Code(code)
        self.reason = reason
        super().__init__(f"{self.code.value} {reason}")


class NotConfigured(RouteWatchError):  # noqa: N818 - name follows scrapy's NotConfigured
    """A component cannot run with the given settings (raised when it is built, CONVENTIONS §5)."""

    def __init__(self, reason: str, code: Code | str = Code.E902):
        super().__init__(code, reason)
