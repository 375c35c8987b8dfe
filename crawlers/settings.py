"""Settings of the crawl and fetch stages, with their defaults (CONVENTIONS §4)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class CrawlSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_agent: str = "RouteWatch/0.1 (+research monitor; respects robots.txt)"
    obey_robots: bool = True
    concurrency_per_domain: int = 1
    download_delay: float = 0.0
    autothrottle: bool = True
    retry_times: int = 2
    max_retry_after_seconds: float = 120.0  # longest Retry-After we wait for; longer → give up (E107)
    backoff_base_seconds: float = 1.0  # 429/503 without Retry-After: 1 s, 2 s, 4 s …
    timeout_seconds: float = 20.0
    max_pages_per_source: int = 50
    # longest URL requested (start URLs, links, feeds); longer ones are refused with E109
    max_url_chars: int = Field(default=8192, ge=256, le=1_000_000)
    # SPEC §4: canonical URLs stay canonical; bytes may come from a configured origin.
    origins: dict[str, str] = Field(default_factory=dict)
    # host:port pairs exempt from the private-address guard (empty by default).
    allow_hosts: list[str] = Field(default_factory=list)
    # media limits
    max_media_bytes: int = 200 * 1024 * 1024
    max_media_seconds: float = 1800.0
    # total time budget of one download (media file, subtitles), beside timeout_seconds (the idle time-out
    # of each read, which a server sending a few bytes at a time never reaches): past it, E210
    max_download_seconds: float = Field(default=600.0, gt=0, le=86400)
    fetch_media: bool = True
    # comments kept per post as `comment` text units (yt-dlp's for YouTube / TikTok at fetch, Zeeschuimer's
    # comment captures at import); 0 = none
    max_comments: int = Field(default=100, ge=0, le=100_000)
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
    tiktok_research_max_pages: int = 10  # pages of ≤ 100 videos per 30-day window
    # 429 rate_limit_exceeded: retries with this back-off before stopping with E107 (quota errors stop at once)
    tiktok_research_retries: int = 3
    tiktok_research_backoff_seconds: float = 6.0
    # yt-dlp discovery (crawlers/ytdlp_discovery.py): most entries taken from one listing or search
    ytdlp_max_entries: int = 50
