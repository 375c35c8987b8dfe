"""spaCy pipelines of the extraction stage: one per language, defined by spaCy config.

In: a language code and a corridor pack. Out: a `spacy.Language` whose components fill
`doc._.rw` (an `Analysis`; `spans_of(doc)` shows it as labelled spans). Chinese uses a jieba segmenter whose
dictionary holds every Chinese gazetteer term (names are never split). Pipelines are saved with
`nlp.to_disk` and loaded with `spacy.load`. Must never download anything: every part is local.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jieba
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import DummyTokenizer, registry

from routewatch.core.packs import DEFAULT_PACK

from .analysis import Analysis
from .bribes import find_bribes
from .costs import classify
from .gazetteer import find_mentions
from .money import find_amounts
from .pack import Rules, compile_pack
from .relevance import score
from .route import order
from .text import CLAUSE_END, is_han, normalize, sentences, split_spans

jieba.setLogLevel(logging.WARNING)

if not Doc.has_extension("rw"):
    Doc.set_extension("rw", default=None)

COMPONENTS = (
    "routewatch_gazetteer",
    "routewatch_money",
    "routewatch_bribes",
    "routewatch_costs",
    "routewatch_route",
    "routewatch_relevance",
)


# --- tokenizer ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _jieba_for(pack: str, search_dirs: tuple[str, ...]) -> jieba.Tokenizer:
    """A private jieba dictionary (the global one is left alone) plus every Chinese pack term."""
    rules = compile_pack(pack, search_dirs, phonetic=False)
    tk = jieba.Tokenizer()
    tk.initialize()
    for matcher in (rules.geo, rules.relevance, rules.bribes, rules.costs, rules.route):
        for key in matcher.keys():
            if any(is_han(c) for c in key) and " " not in key:
                tk.add_word(key, freq=100000)
    return tk


class PackTokenizer(DummyTokenizer):
    """Segments the Simplified, folded text with jieba, then slices the original text the same way."""

    def __init__(self, vocab, pack: str, search_dirs: tuple[str, ...] = ()):
        self.vocab = vocab
        self.pack = pack
        self.search_dirs = tuple(search_dirs)
        self._jieba = _jieba_for(pack, self.search_dirs)

    def __call__(self, text: str) -> Doc:
        words: list[str] = []
        pos = 0
        for piece in self._jieba.cut(normalize(text).cased, HMM=False):
            words.append(text[pos : pos + len(piece)])
            pos += len(piece)
        return Doc(self.vocab, words=words, spaces=[False] * len(words))


@registry.tokenizers("routewatch.zh_pack_tokenizer.v1")
def create_pack_tokenizer(pack: str = DEFAULT_PACK, search_dirs: list[str] | None = None) -> Callable:
    def make(nlp: Language) -> PackTokenizer:
        return PackTokenizer(nlp.vocab, pack, tuple(search_dirs or ()))

    return make


# --- components --------------------------------------------------------------------------------

_DEFAULT = {"pack": DEFAULT_PACK, "search_dirs": [], "phonetic": True}


class _Step:
    """One pipeline component: runs one analysis step with the compiled pack rules."""

    def __init__(self, rules: Rules, step: Callable[[Analysis, Rules], object], lang: str, first: bool = False):
        self.rules = rules
        self.step = step
        self.lang = lang
        self.first = first

    def __call__(self, doc: Doc) -> Doc:
        an = doc._.rw
        if an is None or self.first:
            text = doc.text
            an = Analysis(normalize(text), self.lang, sentences(text), split_spans(text, CLAUSE_END, max_len=30))
            doc._.rw = an
        self.step(an, self.rules)
        return doc

    # Nothing to serialise: the rules are re-read from the pack named in the config.
    def to_disk(self, path, *, exclude=()) -> None:
        return None

    def from_disk(self, path, *, exclude=()):
        return self


def _rules(pack: str, search_dirs: list[str], phonetic: bool) -> Rules:
    return compile_pack(pack, tuple(search_dirs), phonetic=phonetic)


@Language.factory("routewatch_gazetteer", default_config=_DEFAULT)
def make_gazetteer(nlp: Language, name: str, pack: str, search_dirs: list[str], phonetic: bool) -> _Step:
    return _Step(_rules(pack, search_dirs, phonetic), find_mentions, nlp.lang, first=True)


@Language.factory("routewatch_money", default_config=_DEFAULT)
def make_money(nlp: Language, name: str, pack: str, search_dirs: list[str], phonetic: bool) -> _Step:
    return _Step(_rules(pack, search_dirs, phonetic), find_amounts, nlp.lang)


@Language.factory("routewatch_bribes", default_config=_DEFAULT)
def make_bribes(nlp: Language, name: str, pack: str, search_dirs: list[str], phonetic: bool) -> _Step:
    return _Step(_rules(pack, search_dirs, phonetic), find_bribes, nlp.lang)


@Language.factory("routewatch_costs", default_config=_DEFAULT)
def make_costs(nlp: Language, name: str, pack: str, search_dirs: list[str], phonetic: bool) -> _Step:
    return _Step(_rules(pack, search_dirs, phonetic), classify, nlp.lang)


@Language.factory("routewatch_route", default_config=_DEFAULT)
def make_route(nlp: Language, name: str, pack: str, search_dirs: list[str], phonetic: bool) -> _Step:
    return _Step(_rules(pack, search_dirs, phonetic), order, nlp.lang)


@Language.factory("routewatch_relevance", default_config=_DEFAULT)
def make_relevance(nlp: Language, name: str, pack: str, search_dirs: list[str], phonetic: bool) -> _Step:
    return _Step(_rules(pack, search_dirs, phonetic), score, nlp.lang)


# --- building, saving, loading -----------------------------------------------------------------


def make_pipeline(lang: str, pack: str = DEFAULT_PACK, search_dirs: list[str] | None = None, phonetic: bool = True) -> Language:
    """A blank spaCy pipeline for `lang` with the routewatch components, all set by config."""
    dirs = list(search_dirs or [])
    config: dict = {}
    if lang == "zh":
        config = {"nlp": {"tokenizer": {"@tokenizers": "routewatch.zh_pack_tokenizer.v1", "pack": pack, "search_dirs": dirs}}}
    nlp = spacy.blank(lang, config=config)
    for comp in COMPONENTS:
        nlp.add_pipe(comp, config={"pack": pack, "search_dirs": dirs, "phonetic": phonetic})
    return nlp


def save_pipelines(pipelines: dict[str, Language], folder: str | Path) -> list[Path]:
    """Write each pipeline to folder/<lang> (config.cfg + meta.json), as spaCy does."""
    out = []
    for lang, nlp in pipelines.items():
        path = Path(folder) / lang
        path.parent.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(path)
        out.append(path)
    return out


def load_pipeline(path: str | Path) -> Language:
    """Load a saved pipeline; its config names the pack and the registered components."""
    return spacy.load(Path(path))


def spans_of(doc: Doc) -> list[Span]:
    """The facts as labelled spaCy spans (for display and debugging)."""
    an: Analysis | None = doc._.rw
    if an is None:
        return []
    out = []
    for label, items in (
        ("PLACE", [(m.start, m.end) for m in an.mentions if m.place is not None and m.journey]),
        ("COUNTRY", [(m.start, m.end) for m in an.mentions if m.place is None and m.journey]),
        ("MONEY", [(a.start, a.end) for a in an.amounts]),
        ("BRIBE", [(b.start, b.end) for b in an.bribes]),
    ):
        for s, e in items:
            span = doc.char_span(s, e, label=label, alignment_mode="expand")
            if span is not None:
                out.append(span)
    return out
