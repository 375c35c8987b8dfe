"""Extractors by versioned name (CONVENTIONS §3): configs say `extractor = "zouxian_rules.v1"`.

In: a registered name and `ExtractSettings`. Out: a built extractor. A new behaviour gets a new name
so old configs keep meaning the same thing; must never silently fall back to another name.
"""

from __future__ import annotations

from collections.abc import Callable

from routewatch.errors import Code, NotConfigured

from .extractor import Extractor
from .settings import ExtractSettings

_REGISTRY: dict[str, Callable[[ExtractSettings], Extractor]] = {}


def register(name: str) -> Callable[[Callable[[ExtractSettings], Extractor]], Callable[[ExtractSettings], Extractor]]:
    def deco(factory: Callable[[ExtractSettings], Extractor]) -> Callable[[ExtractSettings], Extractor]:
        if name in _REGISTRY:
            raise ValueError(f"extractor {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return deco


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Callable[[ExtractSettings], Extractor]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NotConfigured(f"unknown extractor {name!r}; registered: {', '.join(names())}", Code.E902) from None


@register("rules.v1")
def _rules_v1(settings: ExtractSettings) -> Extractor:
    """Pack-driven rules; the corridor is whatever `settings.pack` names."""
    return Extractor(settings, name="rules.v1")


@register("zouxian_rules.v1")
def _zouxian_rules_v1(settings: ExtractSettings) -> Extractor:
    """The same rules with the default corridor pack unless the settings name another pack."""
    return Extractor(settings, name="zouxian_rules.v1")
