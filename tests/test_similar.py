"""routewatch.core.similar: the one near-duplicate definition that trace's groups and the post page's related
posts share (3-shingles of the folded text, exact Jaccard, NEAR_DUPLICATE)."""

from __future__ import annotations

from routewatch.core.similar import NEAR_DUPLICATE, jaccard, near_duplicate_pairs, shingles

ORIGINAL = "墨西哥城飞墨西卡利，机票两千三比索，下飞机就有人举牌接中国人。翻墙那段蛇头收一千五美金，说包三次机会。"


def test_shingles_fold_like_search_and_skip_punctuation() -> None:
    assert shingles("Darién 走線!") == {"dar", "ari", "rie", "ien", "en走", "n走线"}
    assert shingles("，。 !") == frozenset()
    # Traditional and Simplified, full-width and accents: one text
    assert shingles("ＤＡＲＩＥＮ走線") == shingles("darien 走线")


def test_jaccard_is_exact() -> None:
    assert jaccard({"a", "b", "c"}, {"b", "c", "d"}) == 0.5
    assert jaccard(set(), {"a"}) == 0.0
    assert jaccard(shingles(ORIGINAL), shingles(ORIGINAL + "🔥🔥!!!")) == 1.0


def test_copies_pair_and_different_posts_do_not() -> None:
    texts = {
        "original": ORIGINAL,
        "traditional_copy_with_tags": "墨西哥城飛墨西卡利，機票兩千三比索，下飛機就有人舉牌接中國人。翻牆那段蛇頭收一千五美金，"
                                      "說包三次機會。#走線 #美牆",
        "forwarded": "转发自 频道 zouxian_info：" + ORIGINAL,
        "other_post": "从基多坐大巴到图尔坎，过境哥伦比亚，一路上警察查护照要给二十美金。",
        "empty": "",
    }
    pairs = {frozenset((a, b)): round(s, 3) for a, b, s in near_duplicate_pairs({k: shingles(v) for k, v in texts.items()})}
    assert pairs == {frozenset(("original", "forwarded")): 0.733,
                     frozenset(("original", "traditional_copy_with_tags")): 0.917,
                     frozenset(("forwarded", "traditional_copy_with_tags")): 0.688}
    assert min(pairs.values()) >= NEAR_DUPLICATE
    assert jaccard(shingles(texts["original"]), shingles(texts["other_post"])) < 0.2
