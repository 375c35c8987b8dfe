"""Traditional → Simplified normalisation, prompt terms and the scoring helpers of evaluate."""

import re
from pathlib import Path

import pytest
import yaml

from transcribe.evaluate import edit_distance, words, zh_chars
from transcribe.model import ensure_base_model
from transcribe.normalise import normalise_text, to_simplified
from transcribe.prompt import DEFAULT_TERMS_FILE, build_prompt, load_terms


@pytest.mark.parametrize(
    "traditional,simplified",
    [
        ("墨西哥城飛墨西卡利，機票兩千三比索", "墨西哥城飞墨西卡利，机票两千三比索"),
        ("請問從香港轉機去伊斯坦堡再到瓜亞基爾", "请问从香港转机去伊斯坦堡再到瓜亚基尔"),
        ("走線客說蛇頭收錢", "走线客说蛇头收钱"),
    ],
)
def test_traditional_becomes_simplified(traditional, simplified):
    assert to_simplified(traditional) == simplified
    assert normalise_text(f"  {traditional} ", "zh") == simplified


def test_only_chinese_is_converted_and_it_can_be_switched_off():
    assert normalise_text("Salimos de Quito", "es") == "Salimos de Quito"
    assert normalise_text("機票", "zh", normalise_zh=False) == "機票"
    assert normalise_text("機票 9800 USD", "zh") == "机票 9800 USD"


def test_every_prompt_term_comes_from_the_lexicon(shared_data: Path):
    lexicon = (shared_data / "lexicon.md").read_text(encoding="utf-8")
    terms = load_terms()
    assert set(terms) == {"zh", "en", "es"}
    missing = [(lang, t) for lang, spec in terms.items() for t in spec["terms"] if t not in lexicon]
    assert missing == []


def test_prompts_fit_whisper_window_and_are_in_the_target_script():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(ensure_base_model() / "tokenizer.json"))
    for lang in ("zh", "en", "es"):
        prompt = build_prompt(lang)
        assert prompt and len(tokenizer.encode(" " + prompt, add_special_tokens=False).ids) <= 220
    zh = build_prompt("zh")
    assert to_simplified(zh) == zh  # written in Simplified: steers the decoder to it
    assert "厄瓜多尔" in zh and "美金" in zh
    assert build_prompt("fr") == ""


def test_prompt_budget_cuts_at_a_whole_term(tmp_path):
    f = tmp_path / "terms.yaml"
    f.write_text(yaml.safe_dump({"zh": {"intro": "", "joiner": "、", "end": "。", "max_chars": 10,
                                        "terms": ["基多", "达连", "巴拿马", "墨西哥"]}}, allow_unicode=True))
    assert build_prompt("zh", str(f)) == "基多、达连、巴拿马。"  # 10 chars; 墨西哥 would overflow


def test_packaged_terms_file_lists_plain_strings():
    data = yaml.safe_load(DEFAULT_TERMS_FILE.read_text(encoding="utf-8"))
    for lang, spec in data.items():
        if lang == "cases":
            continue
        assert isinstance(spec["terms"], list) and all(isinstance(t, str) and t for t in spec["terms"])


def test_scoring_forms():
    assert zh_chars("機票，兩千三！ OK") == list("机票两千三ok")
    assert words("That's how snakeheads recruit, now.") == ["thats", "how", "snakeheads", "recruit", "now"]
    assert edit_distance(list("abc"), list("axcd")) == 2
    assert re.sub(r"\s", "", "".join(zh_chars("“走线一条龙，9800美金”"))) == "走线一条龙9800美金"


def test_prompt_cases_of_the_pack():
    """The pack's asr_prompt.yaml `cases:`: language -> the exact prompt the decoder is given."""
    cases = yaml.safe_load(DEFAULT_TERMS_FILE.read_text(encoding="utf-8"))["cases"]
    assert {c["language"] for c in cases} >= set(load_terms())
    for case in cases:
        assert build_prompt(case["language"]) == case["prompt"], case["language"]
