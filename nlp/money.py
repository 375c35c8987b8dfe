"""Money step: amounts and currencies (两万五, 1.5万, 3k, 一万二, 5000刀, quinientos dólares, $1,200, ranges).
Candidate spans only go to cn2an (九八零零 read digit by digit) and text2num (mil quinientos), never whole
sentences; ASR sound-alikes of currency and context words (必索, 基票) count, marked for lower confidence.

In: an `Analysis` with mentions (for 比索/pesos) and the pack's number and currency tables.
Out: `analysis.amounts`. Must never read a duration, count, size, score, date, form number or an
open-ended amount (十几万, 几千, 一万多) as money, nor give bare numbers a currency the pack does not.
"""

from __future__ import annotations

import cn2an
from text_to_num import text2num

from .analysis import Amount, Analysis, Mention
from .lexmatch import SoundIndex
from .pack import Rules
from .spans import KindIndex
from .text import is_latin_alnum, span_index

_ARABIC = "0123456789"


def _scan_arabic(fold: str, i: int, multipliers: tuple[str, ...] = ()) -> tuple[float, int] | None:
    """An Arabic number at i: 1500, 1,500, 1.500 (thousands), 8.5, 1.5 (decimal), and a decimal comma
    before a multiplier word (2,5 millones = 2.5 million; 1,5万)."""
    n = len(fold)
    j = i
    while j < n and fold[j] in _ARABIC:
        j += 1
    if j == i:
        return None
    intpart = fold[i:j]
    if j + 1 < n and fold[j] == "," and fold[j + 1].isdigit() and multipliers:
        k = j + 1
        while k < n and fold[k].isdigit():
            k += 1
        rest = fold[k + 1 :] if k < n and fold[k] == " " else fold[k:]
        if k - j - 1 <= 2 and any(
            rest.startswith(w) and (len(rest) == len(w) or not is_latin_alnum(rest[len(w)]) or not is_latin_alnum(w[-1]))
            for w in multipliers
        ):
            return float(intpart + "." + fold[j + 1 : k]), k
    # Thousands groups: ",ddd" (English) or ".ddd" (Spanish/Colombian) repeated, first group 1-3 digits.
    if len(intpart) <= 3:
        for sep in (",", "."):
            k = j
            groups = []
            while k + 4 <= n and fold[k] == sep and fold[k + 1 : k + 4].isdigit() and (k + 4 == n or not fold[k + 4].isdigit()):
                groups.append(fold[k + 1 : k + 4])
                k += 4
            if groups and not (sep == "." and len(groups) == 1 and k < n and fold[k] in "万千百kw"):
                value = float(intpart + "".join(groups))
                if sep == "," and k + 1 < n and fold[k] == "." and fold[k + 1].isdigit():
                    m = k + 1
                    while m < n and fold[m].isdigit():
                        m += 1
                    value = float(intpart + "".join(groups) + fold[k:m])
                    k = m
                return value, k
    if j + 1 < n and fold[j] == "." and fold[j + 1].isdigit():
        k = j + 1
        while k < n and fold[k].isdigit():
            k += 1
        return float(fold[i:k]), k
    return float(intpart), j


def _digit_reading(fold: str, i: int, digits: dict[str, int], units: dict[str, float]) -> tuple[float, int] | None:
    """Chinese digits read one by one (九八零零 = 9800, 一五零零 = 1500: how numbers are often spoken and
    transcribed): a run of three or more digit characters with no unit after it, converted by cn2an."""
    n = len(fold)
    j = i
    while j < n and fold[j] in digits:
        j += 1
    if j - i < 3 or (j < n and fold[j] in units and not fold[j].isascii()):
        return None
    try:
        value = cn2an.cn2an(fold[i:j], "smart")
    except (ValueError, KeyError):
        return None
    return float(value), j


def _words_value(span: str, lang: str, own: float) -> float:
    """A spelled-out number of several words (mil quinientos, two thousand five hundred) read by
    text2num in the text's language; the pack's own reading when text2num does not know the span."""
    for code in ((lang,) if lang in ("es", "en") else ("es", "en")):
        try:
            return float(text2num(span, code))
        except ValueError:
            continue
    return own


def _scan_number(fold: str, i: int, rules: Rules) -> tuple[float, int, float] | None:
    """Digits and units from i (Arabic and Chinese mixed): value, end, largest unit seen (0 if none)."""
    n = len(fold)
    digits, units = rules.digits, rules.units
    ch = fold[i]
    if not (ch in _ARABIC or (ch in digits and digits[ch] != 0) or units.get(ch) == 10):
        return None
    spelled = _digit_reading(fold, i, digits, units)
    if spelled is not None:
        return spelled[0], spelled[1], 0.0
    total = 0.0  # closed sections (above section_unit)
    section = 0.0
    cur: float | None = None
    last_unit = 0.0
    top_unit = 0.0
    j = i
    while j < n:
        ch = fold[j]
        if ch in _ARABIC:
            if cur is not None:
                break
            got = _scan_arabic(fold, j, rules.decimal_multipliers)
            assert got is not None
            cur, j = got
            continue
        if ch in digits:
            if digits[ch] == 0:
                last_unit = 0.0  # 一万零五百: no elliptical tail after a zero
                j += 1
                continue
            if cur is not None:
                break
            cur = float(digits[ch])
            j += 1
            continue
        unit = units.get(ch)
        if unit is None:
            break
        if ch.isascii():
            # k / w only right after a number and not as the start of a word (3km, 5weeks).
            if cur is None or (j + 1 < n and fold[j + 1].isalpha() and fold[j + 1].isascii()):
                break
        top_unit = max(top_unit, unit)
        if unit >= rules.section_unit:
            section += cur if cur is not None else (0.0 if section else 1.0)
            total = (total + section) * unit
            section = 0.0
        else:
            section += (cur if cur is not None else 1.0) * unit
        cur = None
        last_unit = unit
        j += 1
    if j == i:
        return None
    if cur is not None:
        # Elliptical tail: 两万五 = 2*10^4 + 5*10^3; a plain trailing number otherwise (1,500).
        section += cur * last_unit / 10 if last_unit >= 10 else cur
    return total + section, j, top_unit


def _scan_words(fold: str, i: int, table: dict[str, float], rules: Rules) -> tuple[float, int] | None:
    """Spelled-out numbers at a word start: quinientos, dos mil, a hundred and fifty."""
    n = len(fold)
    total = cur = 0.0
    j = i
    end = i
    strong = False
    while j < n:
        k = j
        while k < n and (fold[k].isalpha() and fold[k].isascii()):
            k += 1
        word = fold[j:k]
        if not word:
            break
        if word in table:
            v = table[word]
            if word in rules.multipliers or v >= 1000:
                if v >= 1000:
                    total += (cur or 1.0) * v
                    cur = 0.0
                else:
                    cur = (cur or 1.0) * v
                strong = True
            else:
                cur += v
                strong = strong or word not in rules.weak_words
            end = k
        elif word in rules.word_joiners and end == j - 1 and cur:
            pass  # "treinta y cinco", "hundred and fifty": keep going, end stays before the joiner
        else:
            break
        if k < n and fold[k] == " ":
            j = k + 1
        else:
            break
    if end == i or not strong:
        return None
    return total + cur, end


class MoneyFinder:
    def __init__(self, rules: Rules):
        self.r = rules
        self.heard: dict[int, str] = {}  # end of a sound-alike currency word -> the word it sounds like

    # --- currency around a number ---
    def _currency_after(self, an: Analysis, pos: int) -> tuple[str | None, int, int | None]:
        """(iso or by_country marker, end, by_country group) of a currency word at pos (one space allowed)."""
        norm = an.norm
        for skip in (0, 1):
            p = pos + skip
            if skip and (p > len(norm.fold) or norm.fold[pos : pos + 1] != " "):
                break
            hit = self.r.currency_after.match_at(norm, p)
            if hit is None:
                heard = self.r.currency_sounds.at(norm.fold, p) if self.r.phonetic and not skip else None
                if heard is None:
                    continue
                # an ASR homophone of a currency word right after a number (五百必索 ~ 五百比索)
                kind, value = self.r.currency_sound_payload[heard]
                end = p + len(heard)
                self.heard[end] = heard
                if kind == "by_country":
                    return None, end, int(value)
                return str(value), end, None
            kind, value = hit.payloads[0]
            if kind == "none":
                return None, pos, None  # a unit that starts like a currency word (欧姆)
            if kind == "iso_attached" and skip:
                continue
            if kind == "by_country":
                return None, hit.end, int(value)
            return str(value), hit.end, None
        return None, pos, None

    def _currency_before(self, an: Analysis, pos: int) -> tuple[str | None, int]:
        fold, cased = an.norm.fold, an.norm.cased
        for sym, iso, is_cased in self.r.currency_before:
            for gap in (0, 1):
                s = pos - gap - len(sym)
                if s < 0 or (gap and fold[pos - 1] != " "):
                    continue
                got = cased[s : pos - gap] if is_cased else fold[s : pos - gap]
                if got != sym:
                    continue
                if (is_cased or is_latin_alnum(sym[0])) and s > 0 and is_latin_alnum(fold[s - 1]):
                    continue
                if is_cased and gap:
                    continue
                return iso, s
        return None, pos

    def _resolve_country(self, an: Analysis, group: int, pos: int) -> str:
        table, default = self.r.by_country[group]
        best: tuple[int, Mention] | None = None
        for m in an.mentions + an.adjectives:
            if m.iso not in table:
                continue
            dist = pos - m.end if m.end <= pos else m.start - pos + 1
            if best is None or dist < best[0]:
                best = (dist, m)
        return table[best[1].iso] if best else default

    # --- filters ---
    def _vague(self, fold: str, start: int, end: int) -> bool:
        after = fold[end : end + 3]
        if any(after.startswith(v) for v in self.r.vague_after):
            return True
        before = fold[max(0, start - 3) : start]
        for v in self.r.vague_before:
            if before.endswith(v):
                # 上万 / 数千 are open-ended; 晚上五万 (the evening, then 50,000) is not
                if v in self.r.vague_unit_only and start < len(fold) and fold[start] in self.r.digits:
                    continue
                return True
        return False

    def _not_money(self, fold: str, start: int, end: int) -> bool:
        k = end
        while k < len(fold) and fold[k] == " ":
            k += 1
        tail = fold[k : k + 12]
        for w in self.r.not_money_after:
            if tail.startswith(w):
                wend = k + len(w)
                if is_latin_alnum(w[-1]) and wend < len(fold) and is_latin_alnum(fold[wend]):
                    continue
                return True
        if end < len(fold) and fold[end] in "/:：" and end + 1 < len(fold) and fold[end + 1].isdigit():
            return True  # 10/10, 10:30
        head = fold[max(0, start - 4) : start]
        if any(head.endswith(w) for w in self.r.not_money_before):
            return True
        if start > 0 and (fold[start - 1] in "/:-" and start > 1 and fold[start - 2].isdigit()):
            return True
        if start > 0 and is_latin_alnum(fold[start - 1]) and not fold[start - 1].isdigit():
            return True  # glued to a word: covid19, A4
        return False

    def _tokens(self, an: Analysis) -> list[tuple[float, int, int, float, str | None]]:
        """Every number in the text: (value, start, end, largest unit, currency implied by a unit word)."""
        r = self.r
        fold = an.norm.fold
        n = len(fold)
        words = r.number_words.get(an.lang)
        if words is None:  # Chinese text with Spanish or English words in it: know them all
            words = {k: v for table in r.number_words.values() for k, v in table.items()}
        out = []
        i = 0
        while i < n:
            ch = fold[i]
            got = None
            top = 0.0
            if ch in _ARABIC or ch in r.digits or ch in r.units:
                scanned = _scan_number(fold, i, r)
                if scanned:
                    got = (scanned[0], scanned[1])
                    top = scanned[2]
            elif ch.isalpha() and ch.isascii() and (i == 0 or not is_latin_alnum(fold[i - 1])):
                got = _scan_words(fold, i, words, r)
                if got and " " in fold[i : got[1]]:
                    got = (_words_value(fold[i : got[1]], an.lang, got[0]), got[1])
            if not got:
                i += 1
                continue
            value, end = got
            unit_cur = None
            k = end + 1 if end < n and fold[end] == " " else end
            for word, mult in r.spaced_units.items():
                stop = k + len(word)
                if fold.startswith(word, k) and (stop >= n or not is_latin_alnum(fold[stop])):
                    if k == end and is_latin_alnum(word[0]) and not fold[end - 1].isdigit():
                        continue  # "dosmil": only a digit may be glued to a unit word
                    value *= mult
                    top = max(top, mult)
                    end = stop
                    unit_cur = r.unit_currency.get(word)
                    break
            out.append((value, i, end, top, unit_cur))
            i = end
        return out

    def _currency_of(self, an: Analysis, start: int, end: int, unit_cur: str | None):
        """(iso, span start, span end, explicit) for the number at [start, end)."""
        iso, cur_end, group = self._currency_after(an, end)
        before_iso, bstart = self._currency_before(an, start)
        if group is not None:  # "$500 pesos": the word after decides, the span takes both
            return self._resolve_country(an, group, start), bstart, cur_end, True
        if iso is not None:
            return iso, bstart, cur_end, True
        if before_iso:
            return before_iso, bstart, end, True
        if unit_cur:
            return unit_cur, start, end, True
        return None, start, end, False

    def _range_join(self, fold: str, end: int, nxt: int) -> bool:
        gap = fold[end:nxt].strip()
        if not gap:
            return False
        return any(gap == j for j in self.r.range_joiners)

    def find(self, an: Analysis) -> list[Amount]:
        fold = an.norm.fold
        toks = self._tokens(an)
        out: list[Amount] = []
        i = 0
        while i < len(toks):
            value, s, e, top, unit_cur = toks[i]
            iso, span_s, span_e, explicit = self._currency_of(an, s, e, unit_cur)
            after_iso, _, _ = self._currency_after(an, e)
            if after_iso is None and i + 1 < len(toks) and self._range_join(fold, e, toks[i + 1][1]):
                v2, s2, e2, top2, uc2 = toks[i + 1]
                iso2, _, span_e2, explicit2 = self._currency_of(an, s2, e2, uc2)
                # "两到三万": the first number takes the second's unit when it has none.
                v1 = value * top2 if top == 0 and top2 >= 10 and value * top2 <= v2 else value
                if explicit2 or explicit:
                    cur = iso2 or iso
                    if not self._vague(fold, s, e2):
                        out.append(Amount(span_s, span_e2, v1, cur, True, s, e))
                        out.append(Amount(span_s, span_e2, v2, cur, True, s2, e2))
                    i += 2
                    continue
                if not self._vague(fold, s, e2) and not self._not_money(fold, s2, e2) and not self._not_money(fold, s, s):
                    out.append(Amount(s, e2, v1, None, False, s, e2))
                    out.append(Amount(s, e2, v2, None, False, s, e2))
                    i += 2
                    continue
            i += 1
            if self._vague(fold, s, e):
                continue
            if explicit:
                head = fold[max(0, s - 4) : s]
                if any(head.endswith(w) for w in self.r.not_money_before):
                    continue  # 阻抗一百欧: a measurement, whatever word follows
                out.append(Amount(span_s, span_e, value, iso, True, s, e))
            elif not self._not_money(fold, s, e):
                out.append(Amount(s, e, value, None, False, s, e))
        an.amounts = self._resolve_bare(an, out)
        for a in an.amounts:
            if a.end in self.heard:
                a.sounds_like = self.heard[a.end]
        return an.amounts

    def _resolve_bare(self, an: Analysis, amounts: list[Amount]) -> list[Amount]:
        r = self.r
        fold = an.norm.fold
        bare_cur = r.bare_currency.get(an.lang)
        hits = r.costs.find(an.norm)
        an.cost_hits = hits
        cues = KindIndex(hits)  # cues in a window by bisection: dense texts have thousands
        out: list[Amount] = []
        for a in amounts:
            if self._not_cost(an, a, cues):
                continue
            if a.explicit:
                out.append(a)
                continue
            year_like = fold[a.num_start : a.num_end].isdigit()  # "2,000" has a separator: no year
            if a.value < r.bare_min or (1990 <= a.value <= 2035 and a.value.is_integer() and year_like):
                continue
            digits = sum(c.isdigit() for c in fold[a.num_start : a.num_end])
            if digits > 7:
                continue  # a phone number or an id
            if an.lang in r.inherit_in:
                prev = self._inherit_from(an, a, out)
                if prev is not None:
                    out.append(Amount(a.start, a.end, a.value, prev.currency, False, a.num_start, a.num_end))
                continue
            if bare_cur and self._price_context(an, a, cues):
                out.append(Amount(a.start, a.end, a.value, bare_cur, False, a.num_start, a.num_end))
        return out

    def _not_cost(self, an: Analysis, a: Amount, cues: KindIndex) -> bool:
        cl = an.clauses[span_index(an.clauses, a.start)]
        lo = max(cl[0], a.start - self.r.context_window)
        if cues["notcost"].any_inside(lo, a.start):
            return True
        # "罚款两百一今年免了", "the $150 fine was waived": waived in the amount's own clause
        if cues["waived"].any_starting(cl[0], cl[1]):
            return True
        return self._heard_before(an, lo, a.start, self.r.notcost_sounds)  # 防带 ~ 房贷 in a transcript

    def _price_context(self, an: Analysis, a: Amount, cues: KindIndex) -> bool:
        sent = an.sents[span_index(an.sents, a.start)]
        lo = max(sent[0], a.start - self.r.context_window)
        near = cues.any_of(("price", "kind"))
        if near.any_inside(lo, a.start) or near.any_starting(a.end, a.end + 2):
            return True
        return self._heard_before(an, lo, a.start, self.r.price_sounds)  # 基票 ~ 机票 in a transcript

    def _heard_before(self, an: Analysis, lo: int, hi: int, terms: SoundIndex) -> bool:
        """A sound-alike of one of `terms` in [lo, hi) of a Chinese text (ASR homophones)."""
        if not self.r.phonetic or not terms or an.lang != "zh":
            return False
        fold = an.norm.fold
        return any(terms.at(fold, p) for p in range(lo, hi))

    def _inherit_from(self, an: Analysis, a: Amount, prev: list[Amount]) -> Amount | None:
        fold = an.norm.fold
        si = span_index(an.sents, a.start)
        lo = an.sents[si][0]
        if si and fold[:lo].rstrip().endswith((";", "；")):  # "…60 dólares; el paquete, 320": one list
            lo = an.sents[si - 1][0]
        for p in reversed(prev):
            if p.currency and p.explicit and lo <= p.start and 0 <= a.start - p.end <= 40:
                gap = fold[p.end : a.start]
                if any(w in gap for w in (" y ", " and ", ",", " vs ", " but ", " pero ", " o ", " or ")):
                    return p
                return None
        return None


def find_amounts(an: Analysis, rules: Rules) -> list[Amount]:
    return MoneyFinder(rules).find(an)
