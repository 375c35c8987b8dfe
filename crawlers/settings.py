"""Settings of the crawl and fetch stages, with their defaults (CONVENTIONS §4)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from routewatch.core.politeness import Budget, budget_for
from routewatch.core.sections import Section


class CrawlSettings(Section):
    """Unknown keys, NaN / inf and values that cannot work (0 concurrency, 0 pages, a timeout ≤ 0) are
    refused when the settings load, each naming the setting (E917 / E918)."""

    user_agent: str = Field(default="RouteWatch/0.1 (+research monitor; respects robots.txt)", min_length=1)
    obey_robots: bool = True
    concurrency_per_domain: int = Field(default=1, ge=1, le=64)
    download_delay: float = Field(default=0.0, ge=0, le=3600)
    autothrottle: bool = True
    retry_times: int = Field(default=2, ge=0, le=20)
    max_retry_after_seconds: float = Field(default=120.0, ge=0, le=86400)  # longest Retry-After we wait for; longer → give up (E107)
    backoff_base_seconds: float = Field(default=1.0, ge=0, le=3600)  # 429/503 without Retry-After: 1 s, 2 s, 4 s …
    timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    max_pages_per_source: int = Field(default=50, ge=1)
    # longest URL requested (start URLs, links, feeds); longer ones are refused with E109
    max_url_chars: int = Field(default=8192, ge=256, le=1_000_000)
    # SPEC §4: canonical URLs stay canonical; bytes may come from a configured origin.
    origins: dict[str, str] = Field(default_factory=dict)
    # host:port pairs exempt from the private-address guard (empty by default).
    allow_hosts: list[str] = Field(default_factory=list)
    # media limits
    max_media_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_media_seconds: float = Field(default=1800.0, gt=0)
    # total time budget of one download (media file, subtitles), beside timeout_seconds (the idle time-out
    # of each read, which a server sending a few bytes at a time never reaches): past it, E210
    max_download_seconds: float = Field(default=600.0, gt=0, le=86400)
    fetch_media: bool = True
    # Telegram: also keep each message's own page (t.me/<channel>/<id>?embed=1) as its evidence snapshot
    telegram_post_pages: bool = True
    # comments kept per post as `comment` text units (yt-dlp's for YouTube / TikTok at fetch, Zeeschuimer's
    # comment captures at import); 0 = none
    max_comments: int = Field(default=100, ge=0, le=100_000)
    # follow the public comment pages crawlers link (Telegram: each channel message's replies in its linked
    # discussion group, one more request per message); their comments become `comment` units. Off by default.
    comment_pages: bool = False
    # per platform, a cookies.txt (Netscape format) of a logged-in browser, for platforms that show some
    # videos only to logged-in users (Douyin often): {douyin = "/home/me/douyin-cookies.txt"}. Read, never
    # written (yt-dlp gets a copy). Without one, such refusals are E211, saying which setting would help.
    cookies_file: dict[str, str] = Field(default_factory=dict)
    # Relevance pre-filter on the caption: when on, media of posts whose caption is a clear hard
    # negative (sewing / PCB 走线, VPN 翻墙, tourism, football …: a negative relevance score) is not
    # fetched (counted as fetch/skipped/prefilter); the post record is always kept. Off by default,
    # because a vague caption often hides a spoken route.
    prefilter: bool = False
    # TikTok Research API (crawlers/tiktok_research.py): client credentials of an approved project.
    tiktok_research_client_key: str = ""
    tiktok_research_client_secret: SecretStr = SecretStr("")
    tiktok_research_max_pages: int = Field(default=10, ge=1)  # pages of ≤ 100 videos per 30-day window
    # 429 rate_limit_exceeded: retries with this back-off before stopping with E107 (quota errors stop at once)
    tiktok_research_retries: int = Field(default=3, ge=0, le=20)
    tiktok_research_backoff_seconds: float = Field(default=6.0, ge=0, le=3600)
    # yt-dlp discovery (crawlers/ytdlp_discovery.py): most entries taken from one listing or search
    ytdlp_max_entries: int = Field(default=50, ge=1)
    # The per-domain budget shared by every worker (routewatch/core/politeness.py): a PostgreSQL DSN. The
    # settings set it from a PostgreSQL catalog.url; empty = this process's own limits only (SQLite catalog).
    shared_budget_url: str = ""
    # a slot of the shared budget is a lease its process renews; a killed process's slots are free after this
    slot_lease_seconds: float = Field(default=30.0, ge=1, le=3600)

    @field_validator("origins")
    @classmethod
    def _origin_urls(cls, v: dict[str, str]) -> dict[str, str]:
        for name, url in v.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"origin {name!r} must be an http:// or https:// URL")
        return v


def domain_budget(crawl: CrawlSettings) -> Budget:
    """The per-domain request budget every request path of the crawl and fetch stages takes its slots from: shared
    by every worker when `shared_budget_url` is set (routewatch/core/politeness.py), else this process's own."""
    return budget_for(crawl.shared_budget_url, crawl.concurrency_per_domain, crawl.download_delay,
                      crawl.slot_lease_seconds)


class SourceConfig(Section):
    """A configured `[[sources]]` entry: its start URLs (pages, feeds, platform pages, yt-dlp search keys),
    or, with `kind`, a query of an API source kind (`tiktok_research`: keywords / hashtags / region_codes
    between start_date and end_date, credentials from `[crawl]` or the environment)."""

    name: str = Field(min_length=1)
    urls: list[str] = Field(default_factory=list)
    enabled: bool = True
    # "" = URLs (each routed to the pages or the yt-dlp source kind); "tiktok_research" (or its versioned name
    # "tiktok_research.v1", SPEC §4b): an API query instead of URLs (crawlers/tiktok_research.py)
    kind: str = ""
    keywords: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    region_codes: list[str] = Field(default_factory=list)
    usernames: list[str] = Field(default_factory=list)
    exclude_keywords: list[str] = Field(default_factory=list)
    start_date: str = ""  # YYYY-MM-DD
    end_date: str = ""
