import pytest

from routewatch.core.privacy import drop_invisible, pseudonym, redact_obj, redact_text

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


@pytest.mark.parametrize(("text", "expected"), [
    ("向导电话 +52\u200b55\u200b1234\u200b5678 走线", "向导电话 [phone removed] 走线"),  # zero-width spaces
    ("联系 5\u20635\u20631\u00ad2\u00ad3\u20634\u00ad5\u20636\u20637 走线",  # invisible separator, soft hyphen
     "联系 [phone removed] 走线"),
    ("打1\ufeff38\u20610013\u206280\U000e003100 找", "打[phone removed] 找"),  # BOM, invisible operators, a tag
    ("call 55\u200d12\u200c34\u200d5678", "call [phone removed]"),  # joiners between digits join nothing
    ("微\u200b信: zx\u200bhelper88", "微\u200b信: [id removed]"),  # a split label and a split id
    ("扫码 wa.me/12\u200b3456 进群", "扫码 [link removed] 进群"),
    # what is not redacted keeps its invisible characters (the caller shows or drops them)
    ("\u202e走线 +52\u200b55\u200b1234\u200b5678\u200b 找 \x1b[2J", "\u202e走线 [phone removed]\u200b 找 \x1b[2J"),
])
def test_contacts_split_by_invisible_characters_are_redacted(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "2\u200b000\u200b000 pesos", "file\u202egpj.exe", "2026\u200b-11\u200b-03", "family 👨\u200d👩\u200d👧",
])
def test_text_without_contacts_is_returned_unchanged(text):
    assert redact_text(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("file\u202egpj.exe \u2066x\u2069", "filegpj.exe x"),  # bidi override and isolates
    ("family 👨\u200d👩\u200d👧, ok", "family 👨\u200d👩\u200d👧, ok"),  # ZWJ emoji sequence kept
    ("می\u200cخواهم", "می\u200cخواهم"),  # Persian ZWNJ kept
    ("5\u200d5 \u200dx", "55 x"),  # a joiner next to a digit or a space joins nothing
    ("2\u200b000 \u00ad\u034f\u180e\U000e0041", "2000 "),  # zero-width space, soft hyphen, CGJ, MVS, a tag
    ("\x1b[2Jclear\x00\t\r\n\x85", "[2Jclear\t\r\n"),  # C0 and C1 controls but tab and line breaks
])
def test_drop_invisible_keeps_what_a_reader_sees(text, expected):
    assert drop_invisible(text) == expected


@pytest.mark.parametrize("text", [
    "https://www.tiktok.com/@user-1483039471/video/7431029384756102918",  # a pseudonym whose hex is all digits
    "https://t.me/user-ca0c8cc8cf/231", "https://t.me/s/user-c20229358d", "ask @user-1483039471 here",
])
def test_a_pseudonym_is_never_redacted_again(text):
    assert redact_text(text) == text
