"""Extractors by versioned name (CONVENTIONS §3): configs say `extractor = "zouxian_rules.v1"`.

In: a registered name and `ExtractSettings`. Out: a built extractor. A new behaviour gets a new name
so old configs keep meaning the same thing; must never silently fall back to another name.
"""

from __future__ import annotations

from collections.abc import Callable

from routewatch.core import registry

from .extractor import Extractor
from .settings import ExtractSettings

Factory = Callable[[ExtractSettings], Extractor]


def register(name: str) -> Callable[[Factory], Factory]:
    """Register an extractor factory in the one registry (`routewatch.core.registry.extractors`)."""

    def deco(factory: Factory) -> Factory:
        if name in registry.extractors:
            raise ValueError(f"extractor {name!r} registered twice")
        return registry.extractors.register(name, func=factory)

    return deco


def names() -> list[str]:
    return registry.names(registry.extractors)


def get(name: str) -> Factory:
    return registry.lookup(registry.extractors, name, "extractor")


@register("rules.v1")
def _rules_v1(settings: ExtractSettings) -> Extractor:
    """Pack-driven rules; the corridor is whatever `settings.pack` names."""
    return Extractor(settings, name="rules.v1")


@register("zouxian_rules.v1")
def _zouxian_rules_v1(settings: ExtractSettings) -> Extractor:
    """The same rules with the default corridor pack unless the settings name another pack."""
    return Extractor(settings, name="zouxian_rules.v1")
