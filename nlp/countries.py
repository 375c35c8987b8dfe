"""Inputs a person types → the corridor pack's codes: countries, route steps, currencies, languages.

In: "PA", "pa", "Panama", "Panamá", "巴拿马", "巴拿馬"; "EC>CO"; "usd"; "es".  Out: the pack's ISO code,
or a RouteWatchError (E908 unknown country, E903 unknown currency / language). The tables are the
pack's `countries.yaml` / `currency.yaml`, read once (no second list in the code); folding is the
extractor's (`fold_term`). Never reads anything but the pack.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.packs import DEFAULT_PACK

from .pack import load_pack
from .text import fold_term


@lru_cache(maxsize=4)
def country_table(pack: str = DEFAULT_PACK) -> dict[str, str]:
    """Folded ISO code or name → ISO code, for every country of the pack (names in any script)."""
    out: dict[str, str] = {}
    for c in load_pack(pack).data["countries"].get("countries", []):
        iso = str(c["iso"]).upper()
        out[iso.lower()] = iso
        for name in [*c.get("names", []), *c.get("cased", [])]:
            out.setdefault(fold_term(str(name)).strip(), iso)
    return out


def known_codes(pack: str = DEFAULT_PACK) -> list[str]:
    return sorted(set(country_table(pack).values()))


def resolve_country(value: str, pack: str = DEFAULT_PACK, what: str = "country") -> str:
    """The ISO code for a code or a name; E908 when the pack does not know it."""
    v = " ".join(unicodedata.normalize("NFKC", value or "").split())
    iso = country_table(pack).get(fold_term(v).strip()) if v else None
    if iso is None:
        raise RouteWatchError(Code.E908, f"unknown {what} {v[:60]!r}: give an ISO code or a name in Chinese, "
                                         f"English or Spanish, one of {', '.join(known_codes(pack))}")
    return iso


def resolve_route(spec: str, pack: str = DEFAULT_PACK) -> tuple[str, ...]:
    """"EC>CO>PA", "Ecuador > Colombia > Panamá" or "厄瓜多尔>哥伦比亚>巴拿马" → ("EC", "CO", "PA")."""
    steps = [s for s in (spec or "").replace("＞", ">").split(">") if s.strip()]
    return tuple(resolve_country(s, pack, what="route step") for s in steps)


def known_currencies(pack: str = DEFAULT_PACK) -> list[str]:
    """ISO 4217 codes the pack extracts (a cost filter in another currency can never match)."""
    return sorted({str(c["iso"]).upper() for c in load_pack(pack).data["currency"].get("currencies", [])})


def known_languages(pack: str = DEFAULT_PACK) -> list[str]:
    return list(load_pack(pack).languages)


def resolve_currency(value: str, pack: str = DEFAULT_PACK) -> str:
    v = (value or "").strip().upper()
    if v not in known_currencies(pack):
        raise RouteWatchError(Code.E903, f"unknown currency {value[:20]!r}: one of {', '.join(known_currencies(pack))}")
    return v


def resolve_language(value: str, pack: str = DEFAULT_PACK) -> str:
    v = (value or "").strip().lower()
    if v not in known_languages(pack):
        raise RouteWatchError(Code.E903, f"unknown language {value[:20]!r}: one of {', '.join(known_languages(pack))}")
    return v
