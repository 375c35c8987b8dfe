"""The privacy rules of every corridor pack (nlp/packs/<pack>/privacy.yaml): each `cases:` row through
routewatch.core.privacy.redact_text, exactly; and the record-level rules (accounts of every import format, ids,
URLs) through redact_obj on records shaped like what the importers and exporters hand it."""

from __future__ import annotations

import pytest

from routewatch.core.privacy import pseudonym, redact_obj, redact_text, rules

KEY = b"k" * 32
CASES = rules()["cases"]


def test_the_pack_has_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:40] for c in CASES])
def test_privacy_case(case):
    assert redact_text(case["text"]) == case["out"]


RAW_ACCOUNTS = ("walker_ana", "6800000000000000001", "MS4wLjABAAAAwalkerSecUid", "小鹿走天涯", "mentioned_guy",
                "6800000000000000002", "MS4wLjABAAAAmentionSecUid", "dy_walker", "88000001", "MS4wLjABdySecUid",
                "抖音小鹿", "ment_dy", "Walker Ana")


def _leaks(obj) -> list[str]:
    import json

    text = json.dumps(obj, ensure_ascii=False)
    return [a for a in RAW_ACCOUNTS if a in text]


def test_every_account_field_of_a_zeeschuimer_tiktok_item_is_pseudonymised():
    item = {"id": "7431029384756102905", "desc": "谢谢 @mentioned_guy 带路 #走线", "createTime": 1793692800,
            "author": {"id": "6800000000000000001", "uniqueId": "walker_ana", "nickname": "小鹿走天涯",
                       "secUid": "MS4wLjABAAAAwalkerSecUid", "avatarThumb": "https://p16.example/walker_ana.jpeg",
                       "signature": "微信 zx8888 包过"},
            "textExtra": [{"hashtagName": "走线"},
                          {"userUniqueId": "mentioned_guy", "userId": "6800000000000000002",
                           "secUid": "MS4wLjABAAAAmentionSecUid"}],
            "video": {"playAddr": "http://ana:pw@cdn.example.org/v.mp4?token=abc&br=1", "duration": 31}}
    out = redact_obj({"import": {"kind": "zeeschuimer", "timestamp_collected": 1793692800000}, "raw": item},
                     (), KEY)
    raw = out["raw"]
    assert _leaks(out) == []
    assert raw["id"] == "7431029384756102905" and raw["createTime"] == 1793692800  # ids and times as they were
    assert out["import"]["timestamp_collected"] == 1793692800000
    assert raw["author"]["uniqueId"] == pseudonym("walker_ana", KEY)
    assert raw["author"]["id"] == pseudonym("6800000000000000001", KEY)
    assert raw["author"]["avatarThumb"] == ""
    assert raw["author"]["signature"] == "微信 [id removed] 包过"
    assert raw["textExtra"][1] == {"userUniqueId": pseudonym("mentioned_guy", KEY),
                                   "userId": pseudonym("6800000000000000002", KEY),
                                   "secUid": pseudonym("MS4wLjABAAAAmentionSecUid", KEY)}
    assert raw["desc"] == f"谢谢 @{pseudonym('mentioned_guy', KEY)} 带路 #走线"
    assert raw["video"] == {"playAddr": "http://cdn.example.org/v.mp4?token=[removed]&br=1", "duration": 31}


def test_every_account_field_of_a_douyin_aweme_and_a_4cat_row_is_pseudonymised():
    aweme = {"aweme_id": "7429876543210987608", "desc": "跟着 @ment_dy 走",
             "author": {"uid": "88000001", "short_id": "1880000008", "unique_id": "dy_walker", "nickname": "抖音小鹿",
                        "sec_uid": "MS4wLjABdySecUid"},
             "text_extra": [{"user_id": "6800000000000000002", "sec_uid": "MS4wLjABAAAAmentionSecUid",
                             "nickname": "ment_dy"}]}
    row = {"id": "7432200000000000001", "author": "walker_ana", "author_fullname": "Walker Ana",
           "body": "Walker Ana pasó por Necoclí", "unix_timestamp": "1793692800"}
    out = redact_obj({"raw": aweme, "row": row}, (), KEY)
    assert _leaks(out) == []
    assert out["raw"]["aweme_id"] == "7429876543210987608"
    assert out["row"]["unix_timestamp"] == "1793692800" and out["row"]["id"] == "7432200000000000001"
    assert out["row"]["body"] == f"{pseudonym('Walker Ana', KEY)} pasó por Necoclí"


def test_ids_urls_and_hashes_are_never_read_as_phone_numbers_but_captions_are():
    rec = {"post_id": "web:5512345678", "platform_id": "5512345678", "views": 5512345678,
           "media": {"sha256": "5512345678" * 6 + "abcd", "size": 5512345678},
           "url": "https://example.org/v/5512345678", "caption": "call 5512345678",
           "sightings": [{"seen_at": "2026-11-03T12:00:00Z", "source": "zeeschuimer:微信zx8888.ndjson"}]}
    out = redact_obj(rec, (), KEY)
    assert {k: out[k] for k in ("post_id", "platform_id", "views", "media", "url")} == \
           {k: rec[k] for k in ("post_id", "platform_id", "views", "media", "url")}
    assert out["caption"] == "call [phone removed]"
    assert out["sightings"] == [{"seen_at": "2026-11-03T12:00:00Z", "source": "zeeschuimer:微信[id removed]"}]


def test_known_handles_in_urls_become_pseudonyms_but_ids_stay_the_platforms():
    rec = {"platform_id": "zouxian_notes/55", "url": "https://t.me/zouxian_notes/55", "source": "telegram:zouxian_notes",
           "caption": "more at t.me/zouxian_notes and t.me/other_chan, ask @zouxian_notes"}
    out = redact_obj(rec, ("zouxian_notes",), KEY)
    p = pseudonym("zouxian_notes", KEY)
    assert out == {"platform_id": "zouxian_notes/55", "url": f"https://t.me/{p}/55", "source": f"telegram:{p}",
                   "caption": f"more at t.me/{p} and t.me/[user], ask @{p}"}
    # a public account (an outlet's channel) is shown as it is, everywhere in the record
    assert redact_obj(rec, ("zouxian_notes",), KEY, keep=frozenset({"zouxian_notes"})) == {
        **rec, "caption": "more at t.me/zouxian_notes and t.me/[user], ask @zouxian_notes"}


def test_without_a_key_accounts_are_removed():
    assert redact_obj({"author": {"uniqueId": "walker_ana"}}, (), None) == {"author": {"uniqueId": "[user]"}}


def test_public_urls_carry_no_account_and_no_secret():
    from routewatch.core.privacy import public_url

    p = pseudonym("ruta.norte.2026", KEY)
    assert public_url("https://www.tiktok.com/@ruta.norte.2026/video/7431029384756102938", KEY) == \
        f"https://www.tiktok.com/@{p}/video/7431029384756102938"
    assert public_url("https://t.me/zouxian_notes/219", KEY) == f"https://t.me/{pseudonym('zouxian_notes', KEY)}/219"
    assert public_url("https://www.youtube.com/channel/UCr7Nq2TbW5xK8pLm3-D9aQe/videos", KEY) == \
        f"https://www.youtube.com/channel/{pseudonym('UCr7Nq2TbW5xK8pLm3-D9aQe', KEY)}/videos"
    assert public_url("https://www.youtube.com/watch?v=Rn8uT2aJcQe", KEY) == "https://www.youtube.com/watch?v=Rn8uT2aJcQe"
    assert public_url("http://ana:pw@cdn.example.org/v.mp4?token=abc", KEY) == \
        "http://cdn.example.org/v.mp4?token=[removed]"
    assert public_url("https://t.me/zouxian_notes/219", None) == "https://t.me/[user]/219"
