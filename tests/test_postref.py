"""A post named by its id, an unambiguous id prefix or its URL (evidence, trace, the post page)."""

import pytest

from routewatch.core.errors import RouteWatchError
from routewatch.postref import find_post, looks_like_ref, resolve_post
from tests.conftest import make_post


@pytest.fixture
def cat(fresh_catalog):
    for pid in ("chan/1", "chan/2", "chan/3"):
        fresh_catalog.upsert_post(make_post(platform_id=pid, url=f"https://t.me/{pid}"))
    return fresh_catalog


def test_full_id_prefix_and_url(cat):
    ids = sorted(p.post_id for p in cat.posts())
    a = ids[0]
    assert resolve_post(cat, a) == a
    unique = next(a[:n] for n in range(9, len(a)) if sum(i.startswith(a[:n]) for i in ids) == 1)
    assert resolve_post(cat, unique) == a
    url = cat.get_post(a).url
    for ref in (url, url + "/", url.replace("https://", "https:/"), url.replace("https://", "http://")):
        assert resolve_post(cat, ref) == a, ref


def test_ambiguous_prefix_lists_the_candidates(cat):
    with pytest.raises(RouteWatchError) as e:
        resolve_post(cat, "telegram-")
    assert e.value.code == "E907" and all(p.post_id in e.value.reason for p in cat.posts())


def test_unknown_or_too_short_is_E903(cat):
    for ref in ("telegram-ffffffff", "tel", "", "https://t.me/other/9", "%", "telegram-%"):
        assert find_post(cat, ref) is None
        with pytest.raises(RouteWatchError) as e:
            resolve_post(cat, ref)
        assert e.value.code == "E903"  # bad input on the command line; the web answers 404 E904


def test_what_trace_tries_as_a_post():
    assert looks_like_ref("telegram-58d7") and looks_like_ref("https://t.me/x/1")
    assert not looks_like_ref("厄瓜多尔免签") and not looks_like_ref("darien gap") and not looks_like_ref("e-mail")
