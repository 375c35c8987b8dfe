"""One read model for people: a post as every output shows it, with the privacy policy applied once.

In: a catalog `Post` and the install's settings (section `privacy`).  Out: `PostView`, a frozen record
whose author, channel, forward source, source name and URL are what the policy allows (keyed pseudonyms
unless revealed or public; a URL whose handle was pseudonymised is text, never a link) beside the platform
id, post id and times exactly as stored. CLI, web, API, export, digest, trace and evidence read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from routewatch.core.catalog import Catalog
from routewatch.core.privacy import install_secret
from routewatch.core.records import Post
from routewatch.web.public import Scrubber

URL_NOTE = "not a link: its account is a pseudonym; platform and platform_id locate the post"




def policy(settings: Any, catalog: Catalog | None = None, *, max_chars: int = 20000,
           reveal: bool = False) -> Scrubber:
    """The output policy of this install: `privacy.*` settings, the install's pseudonym key and the
    accounts the catalog knows (so a handle is replaced wherever a text names it). `reveal`: the raw mode
    for this output only (evidence under `privacy.raw_evidence`)."""
    p = settings.privacy
    return Scrubber(install_secret(Path(settings.data_dir)), catalog.account_names() if catalog is not None else (),
                    pseudonymise=p.pseudonymise_handles, redact=p.redact_contacts, max_chars=max_chars,
                    reveal=p.reveal or reveal, public=p.public_accounts, min_count=p.min_count)


@dataclass(frozen=True, slots=True)
class PostView:
    """A post as people see it. `url` is always text to show; `href` is a link target only when the URL
    is the real, unchanged address (else None: it is shown as text, and `platform` + `platform_id`
    locate the post). Ids and times are never touched by the policy."""

    post_id: str
    platform: str
    platform_id: str
    url: str
    href: str | None
    url_is_link: bool
    author: str
    forwarded_from: str
    source: str
    posted_at: str
    captured_at: str
    lang: str

    @staticmethod
    def of(post: Post, scrub: Scrubber) -> PostView:
        link = scrub.url(post.url)
        return PostView(
            post_id=post.post_id, platform=post.platform, platform_id=post.platform_id,
            url=link["text"] or "", href=link["href"], url_is_link=link["href"] is not None,
            author=scrub.handle(post.author_handle),
            forwarded_from=scrub.handle(post.forwarded_from) if post.forwarded_from else "",
            source=scrub.source(post.source), posted_at=post.posted_at, captured_at=post.captured_at,
            lang=post.lang)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def locator(self) -> str:
        """How an authorised user finds the post when the URL is not a link: "tiktok 7431029384756102905"."""
        return f"{self.platform} {self.platform_id}"
