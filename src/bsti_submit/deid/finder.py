"""The identifier finder: one compiled matcher per header, which the engine cleans text with.

From the identifying values of the original header (`identifiers.collect`) it builds every
spelling a reviewer would recognise: names folded for case, diacritics and punctuation, in
either order, with initials before or after a date; IDs with and without their letter prefix or
separators; dates in every common spelling; addresses by their parts; the institution by its
distinctive words and initials. To those it adds patterns that identify anyone: NHS and CHI
numbers, UK telephone numbers and postcodes, e-mail addresses, URLs and the trust's own
hospital-number pattern. Matching respects word boundaries (`_` joins a technical token) and is
one regex search per value, on the value folded to upper-case ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from ..dicomio.elements import keyword_of, tag_text
from .identifiers import (
    GENERIC_PLACE_WORDS,
    MIN_DIGITS,
    MIN_WORD,
    MONTH_WORDS,
    NAME_PARTICLES,
    Kind,
    OriginalIdentifiers,
    is_nhs_number,
    name_forms,
)

# Between the parts of one identifier: nothing, or a few separators.
_JOIN = r"[\s'`\-.,^_/:;()]{0,3}"
_DATE_SEP = r"[\s./\-]{1,2}"
_TOKEN = re.compile(r"[A-Z]+|[0-9]+|[^\x00-\x7f]+")
_RUNS = re.compile(r"[A-Z0-9]+|[^\x00-\x7f]+")
# Patterns that identify anyone, on folded (upper-case) text.
_GENERIC = (
    (
        "NHS or CHI number",
        r"(?<![0-9.])(?:[0-9](?:[ \-]?[0-9]){9}|[0-9]{3}\.[0-9]{3}\.[0-9]{4})(?![0-9]|\.[0-9])",
    ),
    (
        "telephone number",
        r"(?<![0-9+])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?|\(?0)[1-9](?:[\s\-)]{0,2}[0-9]){8,9}"
        r"(?![0-9])",
    ),
    (
        "postcode",
        r"(?<![A-Z0-9])(?:[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKPS-UW0-9]?\s?[0-9][ABD-HJLNP-UW-Z]{2}"
        r"|GIR\s?0AA)(?![A-Z0-9])",
    ),
    ("e-mail address", r"[A-Z0-9._%+\-]+@[A-Z0-9\-]+(?:\.[A-Z0-9\-]+)+"),
    (
        "URL",
        r"(?:HTTPS?|FTP)://[^\s]+|(?<![A-Z0-9])WWW\.[^\s]+"
        r"|(?<![A-Z0-9.@\-])(?:[A-Z0-9\-]+\.)+"
        r"(?:NHS\.UK|NHS\.NET|SCOT|WALES|CO\.UK|ORG\.UK|AC\.UK|GOV\.UK|COM|ORG|NET)"
        r"(?![A-Z0-9\-])(?:/[^\s]*)?",
    ),
)
_NHS_KIND = _GENERIC[0][0]
_MEANINGFUL = re.compile(r"[^\W_]")
_SEPARATORS = re.compile(r"[\s\-./]+")
_MAX_CLEANING_PASSES = 3


@dataclass(frozen=True)
class Hit:
    """Where an identifier was found in a text, and what kind it is."""

    kind: str
    start: int
    end: int


@lru_cache(maxsize=4096)
def _fold_character(character: str) -> str:
    special = {"ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Œ": "OE", "œ": "OE"}
    special |= {
        "Ł": "L",
        "ł": "L",
        "Đ": "D",
        "đ": "D",
        "Þ": "TH",
        "þ": "TH",
        "\u0131": "I",
    }  # dotless i
    if character in special:
        return special[character]
    decomposed = unicodedata.normalize("NFKD", character)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def fold(text: str) -> tuple[str, list[int] | None]:
    """Upper case without diacritics; with non-ASCII text, the position in `text` of each
    folded character (folding may change the length)."""
    if text.isascii():
        return text.upper(), None
    folded: list[str] = []
    index: list[int] = []
    for position, character in enumerate(text):
        replacement = _fold_character(character)
        folded.append(replacement)
        index.extend([position] * len(replacement))
    return "".join(folded), index


def _transliterated(text: str) -> str:
    """The German spelling of umlauts (MÜLLER as MUELLER), before folding."""
    for umlaut, spelled in (("Ä", "AE"), ("Ö", "OE"), ("Ü", "UE"), ("ä", "ae"), ("ö", "oe")):
        text = text.replace(umlaut, spelled)
    return text.replace("ü", "ue")


def _runs(text: str) -> list[str]:
    return _RUNS.findall(fold(text)[0])


def _letters(run: str) -> int:
    return sum(character.isalpha() for character in run)


def _bounded(pattern: str, first: str, last: str, loose: bool = False) -> str:
    """A word-bounded pattern: letters, digits and `_` may not touch it, as `_` joins a
    technical token (SIEMENS_RIS holds no name RIS); `loose` lets `_` touch it, for what is
    specific enough to be no technical word (a whole name, MULLER_ZOE_LUNG; a word of four
    letters or more, CHEST_BANNERMAN_LDCT). Non-Latin scripts, written without spaces, are not
    bounded."""
    underscore = "" if loose else "_"
    start = rf"(?<![{_edge(first)}{underscore}])" if first.isascii() else ""
    end = rf"(?![{_edge(last)}{underscore}])" if last.isascii() else ""
    return f"{start}{pattern}{end}"


def _edge(character: str) -> str:
    """What may not touch a spelling at an edge: a letter beside a letter, a digit beside a
    digit (a name glued to a date, MACLEOD07031958, is still the name)."""
    return "0-9" if character.isdigit() else "A-Z"


# A pattern, a literal that every text it matches holds once separators are gone, and the
# words it spells.
Spelling = tuple[str, str, str]


def _words(runs: list[str], loose: bool | None = None) -> Iterator[Spelling]:
    """A bounded pattern for a sequence of words, any few separators between them; loosely
    bounded (see `_bounded`) when there are several words, unless told."""
    if runs:
        loose = (len(runs) > 1 or len(runs[0]) > MIN_WORD) if loose is None else loose
        pattern = _bounded(_JOIN.join(map(re.escape, runs)), runs[0][0], runs[-1][-1], loose)
        yield pattern, max(runs, key=len), " ".join(runs)


def _name_patterns(value: str) -> Iterator[Spelling]:
    """A person name (PN components, any group): each component of three letters or more
    (whole, and each of its words), family and given name together in either order, and the
    initials; the last are returned by `_initials`."""
    for group in value.split("="):
        for spelling in {group, _transliterated(group)}:
            parts = [_runs(part) for part in spelling.split("^")[:3]]
            for part in spelling.split("^")[:3]:
                for form in name_forms(" ".join(_runs(part))):
                    if len(form.replace(" ", "")) >= MIN_WORD:
                        yield from _words(form.split())
            for runs in parts:
                if sum(map(len, runs)) >= MIN_WORD:
                    yield from _words(runs)
                for run in runs:
                    if len(run) >= MIN_WORD and run not in NAME_PARTICLES:
                        yield from _words([run])
            family, given = [*parts, [], []][:2]
            if family and given:
                yield from _words([*family, *given])
                yield from _words([*given, *family])
                # a RIS name key: the family name and the given initial (OKONKWOA, AOKONKWO)
                surname, initial = "".join(family), given[0][0]
                yield from _words([surname + initial])
                yield from _words([initial + surname])


def _initials(value: str) -> list[str]:
    """The initials, dotted or not: given (and middle) then family, or family then given."""
    parts = [_runs(part) for part in value.split("=")[0].split("^")[:3]]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return []
    family, given = parts[0][0][0], parts[1][0][0]
    middle = parts[2][0][0] if len(parts) > 2 and parts[2] else ""
    orders = {(given, family), (family, given), (given, middle, family), (family, given, middle)}
    return [
        r"\.?\s?".join(order) + r"\.?"
        for order in orders
        if all(letter.isascii() and letter.isalpha() for letter in order)
    ]


def _id_patterns(value: str) -> Iterator[Spelling]:
    """An ID whole, with any separators between its letter and digit runs, and its digit core
    alone when long enough to identify (RX1234567 as RX-1234567, MRN RXH1234567, 1234567)."""
    tokens = _TOKEN.findall(fold(value)[0])
    if not tokens or sum(map(len, tokens)) < MIN_WORD + 1:
        return
    if all(token.isdigit() for token in tokens) and sum(map(len, tokens)) < MIN_DIGITS:
        return
    joined = _JOIN.join(_spaced(token) if token.isdigit() else re.escape(token) for token in tokens)
    bounded = _bounded(joined, tokens[0][0], tokens[-1][-1], len(tokens) > 1)
    yield bounded, max(tokens, key=len), " ".join(tokens)
    digits = "".join(token for token in tokens if token.isdigit())  # CT20-0457 as 200457
    for token in {digits, digits.lstrip("0"), *tokens}:  # 00412873 written as 412873 too
        if token.isdigit() and len(token) >= MIN_DIGITS:  # any prefix, any separators inside
            yield rf"(?<![0-9]){_spaced(token)}(?![0-9])", token, token


def _spaced(digits: str) -> str:
    """Digits with a separator allowed between any two (ACC99887766 as ACC-9988-7766)."""
    return r"[\s\-./]?".join(digits)


def _address_patterns(value: str) -> Iterator[Spelling]:
    """An address by its parts (split at ^, commas, semicolons and lines), each part with and
    without its house number."""
    for part in re.split(r"[\^,;\r\n]+", value):
        runs = _runs(part)
        if runs and runs[0].isdigit():
            yield from _id_patterns(part)
            runs = runs[1:]
        if sum(_letters(run) for run in runs) >= MIN_WORD + 1:
            yield from _words(runs)


def _place_patterns(value: str) -> Iterator[Spelling]:
    """An institution or department whole, by its distinctive words, and by its initials
    (St Nowhere General Hospital as NOWHERE, SNGH and NGH)."""
    runs = _runs(value)
    words = [run for run in runs if run.isalpha() and run.isascii()]
    distinctive = [w for w in words if len(w) >= MIN_WORD + 1 and w not in GENERIC_PLACE_WORDS]
    if not distinctive:
        return  # "Radiology Department B", "NHS": a description, not a name
    # Every run of its words that holds a distinctive one (St Nowhere, Nowhere General), apart
    # or run together (STNOWHERE), loosely bounded: a hospital's name is no technical word.
    for start in range(len(runs)):
        for end in range(start + 1, len(runs) + 1):
            if any(run in distinctive for run in runs[start:end]):
                yield from _words(runs[start:end], loose=True)
                if end - start == 2:
                    yield from _words(["".join(runs[start:end])], loose=True)
    # The initials, with and without the first word (SNGH, NGH), glued to digits too (99SNGH).
    significant = [word for word in words if word not in ("THE", "OF", "AND", "FOR")]
    for initials in {"".join(w[0] for w in significant), "".join(w[0] for w in significant[1:])}:
        if len(initials) >= MIN_WORD:
            dotted = r"\.?\s?".join(initials) + r"\.?"  # H.P.H. and H P H too
            yield rf"(?<![A-Z]){dotted}(?![A-Z])", initials[0], initials


def date_pattern(day: date) -> str:
    """Every common spelling of one date: ISO, compact, D/M/Y and M/D/Y with any separator and
    two- or four-digit years, and with the month's name, ordinals included."""
    d = f"0?{day.day}" if day.day < 10 else str(day.day)
    m = f"0?{day.month}" if day.month < 10 else str(day.month)
    year, short = str(day.year), f"{day.year % 100:02d}"
    y = f"(?:{year}|{short})"
    names = sorted(MONTH_WORDS[day.month - 1], key=len, reverse=True)
    month_name = rf"(?<![A-Z])(?:{'|'.join(names)})(?![A-Z])"
    y = f"'?{y}"  # 7 Mar '58
    ordinal = r"(?:ST|ND|RD|TH)?"
    named_sep = r"[\s.\-,/]{0,3}"
    iso = f"{year}{day.month:02d}{day.day:02d}"
    compact = (
        iso,
        f"{day.day:02d}{day.month:02d}{year}",
        f"{day.day:02d}{day.month:02d}{short}",
        f"{short}{day.month:02d}{day.day:02d}",
    )
    forms = [
        *compact,
        f"{year}{_DATE_SEP}{m}{_DATE_SEP}{d}",
        f"{d}{_DATE_SEP}{m}{_DATE_SEP}{y}",
        f"{m}{_DATE_SEP}{d}{_DATE_SEP}{y}",
        f"{d}{ordinal}{named_sep}(?:OF\\s)?{month_name}\\.?{named_sep}{y}",
        f"{month_name}\\.?{named_sep}{d}{ordinal}{named_sep}{y}",
    ]
    alone = r"(?<![0-9])(?:" + "|".join(forms) + r")(?!\.?[0-9])"
    return rf"{alone}|(?<![0-9]){iso}[0-9]{{2,6}}(?![0-9])"  # with a time: 19570923083000


Sought = Callable[[frozenset[int]], bool]
# Each generic pattern, and what a text must hold before it is worth running (the e-mail and
# URL patterns cost tens of microseconds on any text).
_GENERIC_MATCHERS = tuple(
    (kind, re.compile(pattern), trigger)
    for (kind, pattern), trigger in zip(
        _GENERIC, ("0123456789", "0123456789", "0123456789", "@", "/."), strict=True
    )
)


class Finder:
    """Everything that identifies in one header, as one matcher; `clean` removes it. A value
    is only searched when it holds a literal that every match holds (the regex costs far more
    than that test), and for the patterns when it holds a digit, `@` or a URL's `/`.

    In a technical attribute (Manufacturer, model, software versions, kernel), a spelling
    equal to one of the header's technical values is no identifier: a second matcher, without
    those spellings, reads them."""

    def __init__(
        self,
        original: OriginalIdentifiers,
        sought: Sought = lambda sources: True,
        local_id: re.Pattern[str] | None = None,
    ) -> None:
        self.local_id = local_id
        self._matchers = {
            technical: _Matcher(*_groups(original, sought, technical))
            for technical in (False, True)
        }

    def find(self, text: str, technical: bool = False) -> list[Hit]:
        """Every identifier in `text`, as spans of `text`; `technical` for the value of a
        technical attribute."""
        folded, index = fold(text)
        hits = self._matchers[technical].hits(folded, index)
        for kind, matcher, trigger in _GENERIC_MATCHERS:
            if any(character in folded for character in trigger):
                hits += _hits(matcher, [kind], folded, index)
        if self.local_id is not None:
            hits += [Hit("hospital number", *m.span()) for m in self.local_id.finditer(text)]
        return hits

    def clean(self, text: str, technical: bool = False) -> str:
        """`text` without any identifier, tidied; '' when nothing meaningful is left. Cleaned
        again while that removes more: taking one identifier out can leave another standing
        alone (SIEMENS_RIS without SIEMENS is RIS)."""
        for _ in range(_MAX_CLEANING_PASSES):
            hits = self.find(text, technical)
            if not hits:
                break
            pieces, position = [], 0
            for hit in sorted(hits, key=lambda hit: hit.start):
                if hit.start >= position:
                    pieces.append(text[position : hit.start])
                position = max(position, hit.end)
            pieces.append(text[position:])
            text = _tidy(" ".join(pieces))
        return text if _MEANINGFUL.search(text) else ""


class _Matcher:
    """One compiled alternation of spellings, with the literals that gate it."""

    def __init__(self, groups: list[tuple[str, str]], triggers: frozenset[str]) -> None:
        self.kinds = [kind for kind, _ in groups]
        self.regex = _compiled(tuple(pattern for _, pattern in groups)) if groups else None
        self.trigger = _literals(tuple(sorted(triggers, key=lambda t: (-len(t), t))))

    def hits(self, folded: str, index: list[int] | None) -> list[Hit]:
        # every match holds one of the literals once separators are gone (9988-7766)
        if self.regex is None or not self.trigger.search(_SEPARATORS.sub("", folded)):
            return []
        return list(_hits(self.regex, self.kinds, folded, index))


def _hits(
    matcher: re.Pattern[str], kinds: list[str], folded: str, index: list[int] | None
) -> Iterator[Hit]:
    for found in matcher.finditer(folded):
        kind = kinds[int(str(found.lastgroup)[1:])] if found.lastgroup else kinds[0]
        if kind == _NHS_KIND and not is_nhs_number(re.sub(r"[^0-9]", "", found[0])):
            continue
        start, end = found.span()
        if index is not None:
            start, end = index[start], index[end - 1] + 1
        yield Hit(kind, start, end)


def _groups(
    original: OriginalIdentifiers, sought: Sought, technical_exempt: bool
) -> tuple[list[tuple[str, str]], frozenset[str]]:
    """(kind, pattern) pairs, most specific first (a regex alternation takes the first that
    matches at a position: names with dates before dates, IDs before the initials of a place
    they start with, whole names before their parts), and the literals of which every match
    holds one. With `technical_exempt`, spellings equal to a technical value are left out."""
    technical: set[str] = set()
    if technical_exempt:
        technical = {fold(value)[0].strip() for value in original.technical}
        technical |= {word for value in technical for word in _TOKEN.findall(value)}
    dates = sorted(day for day, sources in original.dates.items() if sought(sources))
    date_alternatives = "|".join(date_pattern(day) for day in dates)
    groups: list[tuple[str, str]] = []
    triggers = {f"{day.year % 100:02d}" for day in dates}  # in every spelling of a date

    def add(kind: str, source: str, spellings: Iterable[Spelling]) -> None:
        kept = {(p, literal) for p, literal, words in spellings if words not in technical}
        if kept:
            # longest first, then by text: the same header always gives the same regex
            patterns = sorted({p for p, _ in kept}, key=lambda p: (-len(p), p))
            groups.append((f"{kind} ({source})", "|".join(patterns)))
            triggers.update(literal for _, literal in kept)

    names = _sought(original, Kind.NAME, sought)
    initials = [i for value, _ in names for i in _initials(value)]
    if date_alternatives and initials:
        either = "|".join(initials)
        combined = (
            rf"(?<![A-Z0-9])(?:{either}){_JOIN}(?:{date_alternatives})"
            rf"|(?:{date_alternatives}){_JOIN}(?:{either})(?![A-Z0-9])"
        )
        groups.append(("name (initials with a date)", combined))
    for value, source in _sought(original, Kind.ID, sought):
        add(Kind.ID, source, _id_patterns(value))
    for value, source in names:
        add(Kind.NAME, source, _name_patterns(value))
    for kind, spellings in ((Kind.ADDRESS, _address_patterns), (Kind.PLACE, _place_patterns)):
        for value, source in _sought(original, kind, sought):
            add(kind, source, spellings(value))
    if date_alternatives:
        groups.append((Kind.DATE.value, date_alternatives))
    return groups, frozenset(triggers)


def _sought(original: OriginalIdentifiers, kind: Kind, sought: Sought) -> list[tuple[str, str]]:
    found = []
    for value, sources in original.of(kind).items():
        if sought(sources):
            tag = min(sources)
            found.append((value, keyword_of(tag) or tag_text(tag)))
    return found


@lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for all of a header's identifiers; the files of a series share theirs."""
    return re.compile("|".join(f"(?P<g{n}>{pattern})" for n, pattern in enumerate(patterns)))


@lru_cache(maxsize=256)
def _literals(literals: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, literals)) or r"(?!)")


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:)])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    text = re.sub(r"([,;:\-])(?:\s*[,;:\-])+", r"\1", text)
    return text.strip(" ,;:-/^_")
