"""The JSON API's declared shapes, for /openapi.json: one error schema and the main responses.

In: nothing at run time (documentation models only: responses are built by routewatch.web.queries and
are not filtered through these).  Out: pydantic models, `api_responses()` for a route's `responses=`
and `clean_openapi()`, which removes FastAPI's undeclared 422 answer (every refusal is a 4xx with
`{"error": {"code", "reason"}}`, bad parameters included).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Stable error code from routewatch.core.errors, e.g. E903, E505, E904, E908")
    reason: str = Field(description="One line for a person")


class ErrorResponse(BaseModel):
    error: ErrorBody


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SearchHit(_Open):
    post_id: str
    url: str | None = None
    platform: str
    posted_at: str | None = None
    source: str = Field(description="caption, subtitle or transcript")
    unit_id: str
    score: float
    span: list[int] | None = None
    start_sec: float | None = None
    end_sec: float | None = None
    snippet: str
    highlight: list[int] | None = None
    title: str = ""
    author: str = ""
    route: list[str] = []
    countries: list[str] = []
    relevant: bool | None = None
    links: dict[str, str] = {}


class SearchResponse(_Open):
    query: str
    filters: dict[str, Any]
    resolved: dict[str, Any] = Field(description="The filters as applied: country and route as ISO codes")
    count: int = Field(description="Hits on this page")
    total: int = Field(description="Matching posts: exactly, or at least this many (total_relation)")
    total_relation: str = Field(description="eq (exact) or gte (at least)")
    shown: str = Field(description='"20 of 143 (exact)"')
    offset: int
    limit: int
    sort: str = Field(description="relevance or date")
    hits: list[SearchHit]


class TrendRow(_Open):
    """Counts from 1 to min_count - 1 are null; `*_shown` says "<5" for them."""

    period: str
    value: str
    count: int | None
    total: int | None
    count_shown: str
    total_shown: str


class TrendSeries(_Open):
    value: str
    counts: list[int | None]
    counts_shown: list[str]
    total: int | None
    total_shown: str
    unknown_period: int | None


class TrendsResponse(_Open):
    by: str
    field: str
    min_count: int
    periods: list[str]
    totals: list[int | None]
    totals_shown: list[str]
    all_shown: str
    unknown_period_total: int | None
    series: list[TrendSeries]
    rows: list[TrendRow]


class PostResponse(_Open):
    post_id: str
    platform: str
    url: str | None = None
    title: str = ""
    author: str = ""
    posted_at: str | None = None
    captured_at: str | None = None
    lang: str | None = None
    units: list[dict[str, Any]]
    facts: dict[str, Any] | None = None
    media: dict[str, Any] | None = None
    transcripts: list[dict[str, Any]] = []
    related: list[dict[str, Any]] = []


_ERRORS = {
    400: "Bad input: E903 bad value, E505-E508 query syntax, E907 ambiguous post id prefix, E908 unknown country",
    404: "E904 no such post, media or page",
    429: "E905 rate limited (see Retry-After)",
    500: "E906 internal error, E902 bad configuration",
    503: "E503 index or catalog unavailable",
}


def api_responses(ok: type[BaseModel] | None = None) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse, "description": d} for code, d in _ERRORS.items()}
    if ok is not None:
        out[200] = {"model": ok, "description": "OK"}
    return out


def clean_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a 422 validation answer on every route with parameters; this API answers 400 with
    ErrorResponse instead, so the 422 entries and their schemas go."""
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            if isinstance(op, dict):
                op.get("responses", {}).pop("422", None)
    schemas = spec.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return spec
