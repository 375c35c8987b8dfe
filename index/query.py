"""The search query language, one for every index backend.

In: the text a person types: words (AND-ed), `OR`, `-word` / `NOT word`, `"exact phrase"`, parentheses.
Out: a small tree of `Term` / `And` / `Or` / `Not` that `sqlite.v1` and `elasticsearch.v1` each compile,
or a `RouteWatchError` E505-E508 for malformed syntax. Never reinterprets input silently: an operator
is an operator only where the grammar below says so, every other character is searched as text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Union

from routewatch.core.errors import Code, RouteWatchError

# Grammar (operators in upper case; lower-case "or" / "not" are words):
#   query   := or_expr
#   or_expr := and_expr ("OR" and_expr)*
#   and_expr:= unary ("AND"? unary)*
#   unary   := ("NOT" | "-" directly before a term) unary | "(" or_expr ")" | WORD | "PHRASE"
# Semantics (both backends): a word or phrase matches a text unit (caption, subtitle or transcript)
# that contains it; AND / OR combine within one text unit; NOT x holds for a post none of whose text
# units matches x, so `darien -tapachula` never returns a post that mentions Tapachula anywhere.
MAX_DEPTH = 16  # nested parentheses / NOTs
MAX_NOTS = 8  # NOT groups in one query (Elasticsearch expands them: 2^n clauses at most)
MAX_TERMS = 64  # words and phrases in a query that uses OR, NOT or parentheses

SYNTAX_HELP = ('words are AND-ed; OR, NOT word or -word, "exact phrase", (parentheses); '
               "e.g. darien -tapachula, 走线 OR 润, \"darien gap\"")

_FIELD_PREFIX = re.compile(r"^[A-Za-z_]+:(?=\S)")
# Characters with no meaning in the language and no searchable content (tokenizers skip them).
_STRIP = re.compile(r"[\[\]{}*^:'`~!?,;<>=+&|\\/\x00-\x1f]")


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as typed (NFKC), inner whitespace collapsed; backends fold it
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Node


Node = Union[Term, And, Or, Not]  # noqa: UP007 - used at run time in isinstance-free annotations


_OPS = {"OR", "AND", "NOT"}


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, value) with kinds word, phrase, op, neg, lparen, rparen."""
    s = unicodedata.normalize("NFKC", text or "").replace("\x00", " ")
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
        elif c == '"':
            j = s.find('"', i + 1)
            if j < 0:
                raise RouteWatchError(Code.E505, f'unbalanced quote in the query (a phrase needs a closing "): {SYNTAX_HELP}')
            out.append(("phrase", s[i + 1:j]))
            i = j + 1
        elif c == "(":
            out.append(("lparen", c))
            i += 1
        elif c == ")":
            out.append(("rparen", c))
            i += 1
        elif c == "-" and i + 1 < n and not s[i + 1].isspace() and s[i + 1] != "-" and (
                i == 0 or s[i - 1].isspace() or s[i - 1] == "("):
            out.append(("neg", c))
            i += 1
        else:
            j = i
            while j < n and not s[j].isspace() and s[j] not in '"()':
                j += 1
            word = s[i:j]
            out.append(("op", word) if word in _OPS else ("word", word))
            i = j
    return out


def _searchable(words: list[str]) -> bool:
    """Punctuation alone is not indexed by either backend's tokenizer: such a term has nothing to find."""
    return any(c.isalnum() for w in words for c in w)


def _clean(word: str) -> list[str]:
    word = _FIELD_PREFIX.sub("", word)  # `field:value` searches the value
    return _STRIP.sub(" ", word).split()


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]):
        self.toks, self.i, self.depth, self.nots, self.terms = toks, 0, 0, 0, 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _ends(self, t: tuple[str, str] | None) -> bool:
        return t is None or t[0] == "rparen" or (t[0] == "op" and t[1] in ("OR", "AND"))

    def parse(self) -> Node | None:
        node = self.or_expr()
        if self.peek() is not None:  # only a ")" can be left over
            raise RouteWatchError(Code.E506, f"unbalanced parenthesis: a ')' without its '(': {SYNTAX_HELP}")
        return node

    def or_expr(self) -> Node | None:
        parts = [self.and_expr()]
        while (t := self.peek()) is not None and t == ("op", "OR"):
            self.i += 1
            if parts[-1] is _EMPTY_MARK or self._ends(self.peek()):
                raise RouteWatchError(Code.E507, f"OR needs a word or phrase on each side: {SYNTAX_HELP}")
            parts.append(self.and_expr())
        kept = [p for p in parts if p is not None and p is not _EMPTY_MARK]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))

    def and_expr(self) -> Node | object | None:
        items: list[Node] = []
        saw_any = False
        while True:
            t = self.peek()
            if t is None or t[0] == "rparen" or t == ("op", "OR"):
                break
            if t == ("op", "AND"):
                self.i += 1
                if not saw_any or self._ends(self.peek()):
                    raise RouteWatchError(Code.E507, f"AND needs a word or phrase on each side: {SYNTAX_HELP}")
                continue
            saw_any = True
            node = self.unary()
            if node is not None:
                items.append(node)
        if not saw_any:
            return _EMPTY_MARK
        if not items:
            return None
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node | None:
        t = self.peek()
        assert t is not None
        if t[0] == "neg" or t == ("op", "NOT"):
            self.i += 1
            if self._ends(self.peek()):
                raise RouteWatchError(Code.E507, f"NOT (or -) needs a word, phrase or group right after it: {SYNTAX_HELP}")
            self.nots += 1
            if self.nots > MAX_NOTS:
                raise RouteWatchError(Code.E508, f"query too complex: more than {MAX_NOTS} NOTs")
            self._enter()
            inner = self.unary()
            self.depth -= 1
            return Not(inner) if inner is not None else None
        if t[0] == "lparen":
            self.i += 1
            self._enter()
            node = self.or_expr()
            if self.peek() is None or self.peek()[0] != "rparen":  # type: ignore[index]
                raise RouteWatchError(Code.E506, f"unbalanced parenthesis: a '(' without its ')': {SYNTAX_HELP}")
            self.i += 1
            self.depth -= 1
            return node
        if t[0] == "rparen":
            raise RouteWatchError(Code.E506, f"unbalanced parenthesis: a ')' without its '(': {SYNTAX_HELP}")
        self.i += 1
        if t[0] == "phrase":
            words = _STRIP.sub(" ", t[1]).split()
            return self._term(" ".join(words), phrase=True) if _searchable(words) else None
        words = [w for w in _clean(t[1]) if _searchable([w])]
        if not words:
            return None
        if len(words) == 1:
            return self._term(words[0])
        return And(tuple(self._term(w) for w in words))

    def _term(self, text: str, phrase: bool = False) -> Term:
        self.terms += 1
        return Term(text, phrase)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RouteWatchError(Code.E508, f"query too complex: nested more than {MAX_DEPTH} deep")


_EMPTY_MARK = object()  # an and_expr with no token at all (to tell "OR" at an edge from "() OR a")


def parse(text: str) -> Node | None:
    """The query's tree, flattened and simplified; None when it holds nothing to search for."""
    p = _Parser(_tokens(text))
    node = p.parse()
    node = simplify(node) if node is not None else None
    if node is not None and not is_plain(node) and p.terms > MAX_TERMS:
        raise RouteWatchError(Code.E508, f"query too complex: more than {MAX_TERMS} words with OR, NOT or parentheses")
    return node


def simplify(node: Node) -> Node:
    if isinstance(node, Term):
        return node
    if isinstance(node, Not):
        inner = simplify(node.part)
        return inner.part if isinstance(inner, Not) else Not(inner)
    kind = type(node)
    parts: dict[Node, None] = {}  # ordered, without repeats (a 20,000-word query stays linear)
    for p in (simplify(x) for x in node.parts):
        for q in (p.parts if isinstance(p, kind) else (p,)):
            parts.setdefault(q)
    kept = list(parts)
    return kept[0] if len(kept) == 1 else kind(tuple(kept))


def is_plain(node: Node | None) -> bool:
    """Words and phrases AND-ed, nothing else (the backends' fast path)."""
    return node is None or isinstance(node, Term) or (
        isinstance(node, And) and all(isinstance(p, Term) for p in node.parts))


def plain_terms(node: Node | None) -> list[str]:
    """The terms of a plain query (see is_plain)."""
    if node is None:
        return []
    return [node.text] if isinstance(node, Term) else [p.text for p in node.parts]  # type: ignore[union-attr]


def positive_terms(node: Node | None) -> list[str]:
    """Terms that make a text match (not under a NOT): what a snippet and a page mark."""
    out: dict[str, None] = {}

    def walk(n: Node, neg: bool) -> None:
        if isinstance(n, Term):
            if not neg:
                out.setdefault(n.text)
        elif isinstance(n, Not):
            walk(n.part, not neg)
        else:
            for p in n.parts:
                walk(p, neg)

    if node is not None:
        walk(node, False)
    return list(out)


def has_positive(node: Node | None) -> bool:
    """False when the query only excludes (`NOT tapachula`): the backends then list posts by date."""
    return bool(positive_terms(node))


def not_groups(node: Node) -> list[Node]:
    """The outermost NOT operands, in order, without repeats."""
    out: list[Node] = []

    def walk(n: Node) -> None:
        if isinstance(n, Not):
            if n.part not in out:
                out.append(n.part)
        elif isinstance(n, And | Or):
            for p in n.parts:
                walk(p)

    walk(node)
    return out


TRUE, FALSE = "TRUE", "FALSE"


def assign(node: Node, values: dict[Node, bool]) -> Node | str:
    """`node` with each outermost NOT group x replaced by the constant `not values[x]`, folded:
    a Node, or TRUE / FALSE when the constants decide it."""
    if isinstance(node, Term):
        return node
    if isinstance(node, Not):
        return FALSE if values[node.part] else TRUE
    parts = [assign(p, values) for p in node.parts]
    # AND: FALSE decides, TRUE drops out; OR: the other way round
    decides, neutral = (FALSE, TRUE) if isinstance(node, And) else (TRUE, FALSE)
    if decides in parts:
        return decides
    kept = [p for p in parts if p != neutral]
    if not kept:
        return neutral
    return kept[0] if len(kept) == 1 else type(node)(tuple(kept))  # type: ignore[arg-type]
