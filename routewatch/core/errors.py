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
    E108 = "E108"  # URL cannot be parsed (unclosed IPv6 bracket, white space or control characters, no host)
    E109 = "E109"  # URL longer than crawl.max_url_chars
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
    E210 = "E210"  # download (media or subtitles) over its total time budget (crawl.max_download_seconds)
    E211 = "E211"  # the platform refused without a login (HTTP 401/403, "log in"): set crawl.cookies_file.<platform>
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
    E505 = "E505"  # query syntax: unbalanced double quote
    E506 = "E506"  # query syntax: unbalanced parenthesis
    E507 = "E507"  # query syntax: OR / AND / NOT / - without the word, phrase or group it needs
    E508 = "E508"  # query too complex (nesting, NOTs or terms past the limits of index.query)
    # E6xx imports
    E601 = "E601"  # import line not valid JSON / CSV row malformed
    E602 = "E602"  # import item lacks the fields needed for a post
    E603 = "E603"  # import text not UTF-8 and its encoding guessed with little certainty (a warning: imported)
    E604 = "E604"  # impossible date in an import (posted after captured, before 2005, epoch 0): set aside, kept in extra
    # E7xx on-screen text (OCR)
    E701 = "E701"  # no OCR engine or model available
    E702 = "E702"  # OCR model file failed its sha256 check
    E703 = "E703"  # media has no video stream
    E704 = "E704"  # video corrupt, truncated to no frame, or not decodable
    E705 = "E705"  # video longer than ocr max_video_seconds
    E706 = "E706"  # reading the video timed out
    E707 = "E707"  # OCR failed
    E708 = "E708"  # media file empty (0 bytes) or missing
    # E9xx operations
    E901 = "E901"  # data dir locked by another routewatch process
    E902 = "E902"  # bad configuration
    E903 = "E903"  # bad command-line input
    E904 = "E904"  # not found (web / API)
    E905 = "E905"  # rate limited (web / API)
    E906 = "E906"  # internal error (web app or CLI): a bug, with the traceback in the log
    E907 = "E907"  # post id prefix matches more than one post
    E908 = "E908"  # unknown country (not an ISO code or a name in the corridor pack)
    E909 = "E909"  # every item of the command failed (the summary lists the codes)
    # E913-E929 guards on outputs, settings and the catalog (issue 21)
    E913 = "E913"  # output path refused: the catalog or a file of the data dir
    E914 = "E914"  # output path is an input of the same command
    E915 = "E915"  # output path is a symlink, special file, directory or under /dev, /proc, /sys
    E916 = "E916"  # writing an output file failed (disk full, permission, read-only)
    E917 = "E917"  # a setting has a value that cannot work (range, finiteness, type)
    E918 = "E918"  # unknown setting or settings section
    E919 = "E919"  # config file unreadable: not a regular file, too large or not UTF-8
    E920 = "E920"  # catalog is not an SQLite database, or is damaged
    E921 = "E921"  # catalog schema newer than this RouteWatch (read-only; writes refused)
    E922 = "E922"  # data dir unusable (a file, a device, /proc)
    E923 = "E923"  # a stored JSON value in the catalog is invalid (that row skipped)
    E924 = "E924"  # catalog write failed: disk full or read-only
    E925 = "E925"  # requested byte range outside the file (web / API, HTTP 416)
    # E930-E939 saved searches and alerts (issue 18)
    E930 = "E930"  # saved search name invalid (letters, digits, _ . -; 1-60 characters)
    E931 = "E931"  # a saved search of that name exists already
    E932 = "E932"  # no saved search of that name
    E933 = "E933"  # webhook URL invalid (http or https with a host)
    E934 = "E934"  # webhook delivery failed after its retries (the alerts stay undelivered)
    # E960-E969 catalog backends (issue 17)
    E960 = "E960"  # catalog.url invalid: not sqlite:///PATH or postgresql://HOST/DATABASE
    E961 = "E961"  # the PostgreSQL catalog cannot be reached (connection refused, bad login, lost connection)
    E962 = "E962"  # migrate-catalog: the copy differs from the source (row counts or content hashes)
    E963 = "E963"  # a PostgreSQL catalog with the SQLite index: set index.backend = "elasticsearch"
    # E970-E979 distributed mode (issue 17)
    E970 = "E970"  # a worker / queued run needs a PostgreSQL catalog (catalog.url = postgresql://...)
    E971 = "E971"  # a queued job failed (its error is in procrastinate_jobs / the worker's log)
    E972 = "E972"  # run --wait on PostgreSQL: the queues were not empty within the time given
    E973 = "E973"  # a transcription chunk waited too long for earlier posts (ordered save); the job is retried
    # E980-E989 work shared by several processes (issue 17)
    E980 = "E980"  # the shared per-domain politeness budget (PostgreSQL) cannot be reached


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


def error_line(name: str, exc: BaseException, unexpected: Code) -> dict[str, object]:
    """The `{"file", "error": {"code", "reason"}}` line of a per-file command (transcribe-file, ocr-file) for a
    file that failed: a RouteWatchError keeps its code, anything else is `unexpected` with the exception's type."""
    if isinstance(exc, RouteWatchError):
        return {"file": name, "error": {"code": exc.code.value, "reason": exc.reason}}
    return {"file": name, "error": {"code": unexpected.value, "reason": f"{type(exc).__name__}: {exc}"}}
