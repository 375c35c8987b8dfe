"""Every crawler's test URLs route to exactly that crawler (CONVENTIONS §8)."""

import pytest

from crawlers.routing import all_crawlers, crawler_for, matching
from routewatch.core.errors import RouteWatchError

CASES = [(name, url) for name, cls in sorted(all_crawlers().items()) for url in cls.TESTS]


def test_every_crawler_has_tests():
    assert CASES
    for name, cls in all_crawlers().items():
        assert cls.TESTS, f"{name} declares no test URLs"
        assert "." in name and name.rsplit(".", 1)[1].startswith("v"), f"{name} is not a versioned name"


@pytest.mark.parametrize(("name", "url"), CASES)
def test_url_routes_to_exactly_one_crawler(name, url):
    found = matching(url)
    assert [c.name for c in found] == [name]


def test_unclaimed_url_is_E106():
    with pytest.raises(RouteWatchError) as ei:
        crawler_for("mailto:someone@example.org")
    assert ei.value.code.value == "E106"
