import pytest

from routewatch.privacy import pseudonym, redact_obj, redact_text

KEY = b"k" * 32


@pytest.mark.parametrize(("text", "expected"), [
    ("打138-0013-8000找阿强", "打[phone removed]找阿强"),
    ("wa.me/123456，微信: zx_helper88", "[link removed]，微信: [id removed]"),
    ("加微信zx_helper88", "加微信[id removed]"),
    ("VX: abc12345 包接", "VX: [id removed] 包接"),
    ("WhatsApp +52 55 1234 5678", "WhatsApp [phone removed]"),
    ("DM me on Telegram @northbound_ana_dm", "DM me on Telegram @[user]"),
    ("tg: run_bro_2026", "tg: [id removed]"),
    ("call 5512345678 now", "call [phone removed] now"),
    ("扫码 https://u.wechat.com/abcDEF123 进群", "扫码 [link removed] 进群"),
])
def test_contacts_are_redacted(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "https://demo.routewatch.invalid/watch/p01 forwarded from the feed",
    "2026-09-01 captured with yt-dlp 2026.10.26",
    "2.000.000 pesos al lanchero", "1500000 COP", "line up at 5", "the Darien took 3 days, 300 dollars",
    "一共花了两万五，机票8000块", "someone@example.org",
])
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


def test_pseudonyms_are_keyed_stable_and_ignore_the_at_sign():
    assert pseudonym("@lao_zhang", KEY) == pseudonym("lao_zhang", KEY) == pseudonym("@Lao_Zhang", KEY)
    assert pseudonym("@lao_zhang", KEY) != pseudonym("@lao_zhang", b"x" * 32)
    assert pseudonym("@lao_zhang", KEY).startswith("user-")
    assert pseudonym("", KEY) == ""


def test_redact_obj_walks_json_and_replaces_known_handles():
    obj = {"a": ["see t.me/zouxian_notes/5", {"b": "微信: zx_helper88"}], "n": 3}
    out = redact_obj(obj, ("zouxian_notes",), KEY)
    assert out == {"a": [f"see t.me/{pseudonym('zouxian_notes', KEY)}/5", {"b": "微信: [id removed]"}], "n": 3}
