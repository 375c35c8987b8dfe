"""spaCy pipelines: chosen by language, defined by config, saved and loaded with spaCy's own system."""

from __future__ import annotations

import pytest
import spacy
from nlp_helpers import make_unit

import nlp
from nlp import registry
from nlp.pipeline import COMPONENTS, load_pipeline, make_pipeline, save_pipelines, spans_of
from nlp.settings import ExtractSettings
from nlp.text import detect_language, normalize
from routewatch.core.errors import Code, NotConfigured


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("先飞土耳其再去厄瓜多尔", "zh"),
        ("從香港轉機去伊斯坦堡", "zh"),
        ("到了 Necoclí 才知道要买往返船票 160 mil pesos，guía 在 Capurganá 收 150 USD", "zh"),
        ("Mexico 这段 budget 至少准备 3k 刀，因为 policía 每个 checkpoint 都要", "zh"),
        ("A guy on Douyin livestreamed his whole walk: Istanbul to Quito, bus to Tulcán", "en"),
        ("Salimos de Quito un martes, cruzamos a Ipiales por la trocha", "es"),
        ("En el retén de Juchitán la Guardia Nacional nos pidió una lana", "es"),
        ("Paid a Guatemalan cop Q200 at a checkpoint outside Guatemala City.", "en"),
        ("🇪🇨➡️🇨🇴", "zh"),
    ],
)
def test_language_identification(text, lang) -> None:
    assert detect_language(text) == lang


def test_each_language_gets_its_pipeline(extractor) -> None:
    pipes = extractor.pipelines()
    assert sorted(pipes) == ["en", "es", "zh"]
    for lang, nlp_ in pipes.items():
        assert nlp_.lang == lang
        assert nlp_.pipe_names == list(COMPONENTS)
    assert type(pipes["zh"].tokenizer).__name__ == "PackTokenizer"


def test_saved_pipeline_loads_by_config_and_gives_the_same_facts(tmp_path) -> None:
    built = {lang: make_pipeline(lang) for lang in ("zh", "en")}
    paths = save_pipelines(built, tmp_path)
    cfg = (tmp_path / "zh" / "config.cfg").read_text(encoding="utf-8")
    assert '@tokenizers = "routewatch.zh_pack_tokenizer.v1"' in cfg
    assert 'factory = "routewatch_bribes"' in cfg and 'pack = "zouxian"' in cfg
    loaded = load_pipeline(paths[0])
    assert isinstance(loaded, spacy.language.Language) and loaded.pipe_names == list(COMPONENTS)
    text = "麦德林去内科克利的路上，警察检查站要每人五万比索，说不给就送移民局。"
    a, b = built["zh"](text)._.rw, loaded(text)._.rw
    assert (a.route, a.countries, [x.value for x in a.amounts]) == (b.route, b.countries, [x.value for x in b.amounts])
    assert [(x.payer, x.country, x.amount.value) for x in b.bribes] == [("police", "CO", 50000)]
    ex = nlp.build_extractor(settings=ExtractSettings(pipeline_dir=str(tmp_path)))
    assert ex.pipeline("zh").path is not None  # came from disk, not from make_pipeline


def test_segmenter_never_splits_a_gazetteer_name(extractor) -> None:
    tok = extractor.pipeline("zh").tokenizer
    names = [k for k in extractor.rules.geo.keys() if all("\u4e00" <= c <= "\u9fff" for c in k)]
    assert len(names) > 100
    for name in names:
        doc = tok(f"我们去{name}了")
        assert name in [t.text for t in doc], name
    doc = tok("過達林之前在哥倫比亞那邊")  # Traditional text is segmented like its Simplified form
    assert "達林" in [t.text for t in doc] and "哥倫比亞" in [t.text for t in doc]
    assert doc.text == "過達林之前在哥倫比亞那邊"


def test_doc_spans_label_the_facts(extractor) -> None:
    doc = extractor.pipeline("zh")("墨西哥城飛墨西卡利，機票兩千三比索")
    assert [(s.text, s.label_) for s in spans_of(doc)] == [
        ("墨西哥城", "PLACE"), ("墨西卡利", "PLACE"), ("兩千三比索", "MONEY")
    ]


def test_registry_names_and_settings_defaults() -> None:
    assert registry.names() == ["rules.v1", "zouxian_rules.v1"]
    s = ExtractSettings()
    assert (s.extractor, s.pack, s.languages, s.default_language, s.phonetic, s.pack_dirs, s.pipeline_dir) == (
        "zouxian_rules.v1", "zouxian", ["zh", "en", "es"], "zh", True, [], ""
    )
    with pytest.raises(NotConfigured) as err:
        nlp.build_extractor(settings=ExtractSettings(extractor="nope.v9"))
    assert err.value.code == Code.E902
    with pytest.raises(NotConfigured) as err:
        nlp.build_extractor(pack="no-such-pack")
    assert err.value.code == Code.E902


def test_extract_fills_ids_and_provenance(extractor) -> None:
    ex = extractor.extract(make_unit("先飞土耳其再去厄瓜多尔 #走线", post_id="tt-1", unit_id="tt-1:caption"))
    assert (ex.post_id, ex.unit_id, ex.relevant) == ("tt-1", "tt-1:caption", True)
    p = ex.provenance
    assert (p.tool, p.version, p.model) == ("routewatch.nlp", nlp.__version__, "zouxian_rules.v1")
    assert p.params_dict() == {"pack": "zouxian", "pack_version": "1.0.0"} and p.at.endswith("Z")


def test_normalisation_keeps_offsets() -> None:
    for text in ["過達林之前", "İstanbul → Quito", "ＵＳＤ１２０，Necoclí", "🇪🇨 dólares"]:
        n = normalize(text)
        assert len(n.fold) == len(n.cased) == len(text)

