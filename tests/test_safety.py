import pytest

from crawlers.safety import check_url
from routewatch.core.errors import RouteWatchError

REFUSED = [
    "http://127.0.0.1/", "http://127.1/", "http://0x7f000001/", "http://2130706433/", "http://0177.0.0.1/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://10.0.0.5/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/", "http://localhost:8080/", "http://foo.localhost/", "http://[fe80::1]/",
    "http://100.64.0.1/", "file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.org/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_odd_addresses_refused_with_E103(url):
    with pytest.raises(RouteWatchError) as ei:
        check_url(url, [], resolve=False)
    assert ei.value.code.value == "E103"


def test_allow_list_is_exact_host_and_port():
    check_url("http://127.0.0.1:8080/s/x", ["127.0.0.1:8080"], resolve=False)
    with pytest.raises(RouteWatchError):
        check_url("http://127.0.0.1:8081/s/x", ["127.0.0.1:8080"], resolve=False)


def test_public_literal_allowed():
    check_url("https://93.184.215.14/x", [], resolve=False)
