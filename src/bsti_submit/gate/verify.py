"""The fail-closed gate: a second opinion on every cleaned instance, from the bytes that will
leave. An instance with any finding is quarantined, never written or sent.

The gate does not trust the engine, the writer or the finder: it parses the written Part 10
file itself (`outgoing.py`), spells the original identifiers its own way (words, folded, as
token sequences) and searches every text value, every binary value but the pixel data, the file
meta, the preamble and anything after the dataset. It is source-aware as the engine is: values a
profile keeps, technical values and the tool's own values are not findings; instance UIDs are,
class UIDs are not. When the gate finds something in text, the cleaner has a bug.

A finding names the check, the kind of identifier and the attribute path, never the value; the
matching text travels with it for the quarantine's reviewer only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import date
from itertools import pairwise
from pathlib import Path

from pydicom.charset import convert_encodings, decode_bytes

from ..deid.identifiers import (
    DICOM_UID_ROOT,
    GENERIC_PLACE_WORDS,
    MIN_DIGITS,
    MIN_WORD,
    MONTH_WORDS,
    NAME_PARTICLES,
    SEARCHED_BINARY_VRS,
    SEARCHED_VRS,
    TECHNICAL_TAGS,
    Kind,
    OriginalIdentifiers,
    is_nhs_number,
    name_forms,
)
from ..deid.profile import Action, Profile
from ..dicomio.elements import (
    creator_of,
    dictionary_vr,
    is_private_creator,
    keyword_of,
    tag_text,
)
from ..records import Finding
from .outgoing import Element, OutgoingError, read_outgoing

RESIDUAL = "residual identifier"
STRUCTURE = "structure"
# Attributes the tool itself writes into every instance: not searched.
_TOOL_TAGS = frozenset({0x00020013, 0x00120062, 0x00120063, 0x00120064, 0x00280303})
_LETTERS_FOLDED = str.maketrans({"Ø": "O", "Æ": "AE", "Œ": "OE", "Ł": "L", "Đ": "D", "Þ": "TH"})
_NOT_WORD = re.compile(r"[^0-9A-Z_\u0080-\uffff]+")
_LETTER_DIGIT = re.compile(r"(?<=[A-Z])(?=[0-9])|(?<=[0-9])(?=[A-Z])")
_OUTWARD = re.compile(r"[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKPS-UW0-9]?")
_INWARD = re.compile(r"[0-9][ABD-HJLNP-UW-Z]{2}")
# Numbers written as one: digits with spaces, dashes, brackets or a leading + between them (a
# comma or a decimal point ends one).
_DIGIT_GROUPS = re.compile(r"\+?\(?[0-9][0-9 ()\-]*[0-9]")
_DIGITS = re.compile(r"[0-9]+")
_ID_DIGIT_GROUPS = re.compile(r"[0-9][0-9 ()\-./]*[0-9]")
_HAS_DIGIT = re.compile(r"[0-9]")
_DOTTED_NHS = re.compile(r"(?<![0-9.])[0-9]{3}\.[0-9]{3}\.[0-9]{4}(?![0-9]|\.[0-9])")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_URL = re.compile(
    r"(?:https?|ftp)://\S+|www\.\S+"
    r"|(?:[a-z0-9-]+\.)+(?:nhs\.uk|nhs\.net|scot|wales|co\.uk|org\.uk|ac\.uk|gov\.uk|com|org|net)\b",
    re.IGNORECASE,
)


def normal(text: str) -> str:
    """Upper-case words without diacritics, letter and digit runs apart, one space between:
    `O'Néill, RX-123a` is `O NEILL RX 123 A`. `_` stays inside a word (`SIEMENS_RIS`)."""
    return _LETTER_DIGIT.sub(" ", " ".join(_words(text)))


def _words(text: str) -> list[str]:
    """Upper-case words without diacritics: `O'Néill, RX-123a` is `O NEILL RX 123A`."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_LETTERS_FOLDED))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", text.upper().translate(_LETTERS_FOLDED)).split()


Words = tuple[str, ...]  # an identifier as the sequence of its normalised words


class Verifier:
    """Checks written instances against what identified their originals."""

    def __init__(self, profile: Profile, local_id_pattern: str = "") -> None:
        self.profile = profile
        self.local_id = re.compile(local_id_pattern) if local_id_pattern else None
        self.dates_kept = "retain-long-full-dates" in profile.options
        self.uids_kept = "retain-uids" in profile.options
        pseudonyms = {tag for tag, rule in profile.exact.items() if rule.action is Action.PSEUDONYM}
        # Where the tool writes its own values: searched unless they hold exactly those (an
        # engine that failed to replace a patient's name there is caught).
        self._own_value_tags = pseudonyms | {addition.tag for addition in profile.additions}
        self._literal_values = {
            addition.value
            for addition in profile.additions
            if not addition.value.startswith("func:")
        }
        self._spellings: dict[tuple[object, ...], tuple[Index, Index]] = {}

    def check(
        self, written: Path, original: OriginalIdentifiers, own_values: Iterable[str] = ()
    ) -> list[Finding]:
        """Every finding for one written instance; an empty list means it may leave.
        `own_values` are the tool's own for this instance (the pseudonym, the site code)."""
        try:
            outgoing = read_outgoing(written)
        except (OutgoingError, OSError) as error:
            return [Finding(STRUCTURE, f"the written file does not parse ({error})")]
        findings = self._structure(outgoing.elements)
        own = self._literal_values | set(own_values)
        values = list(self._searched(outgoing.elements, own))  # (path, technical, text)
        for name, extra in (
            ("preamble", outgoing.preamble),
            ("after the dataset", outgoing.trailing),
        ):
            if extra.strip(b"\x00"):
                findings.append(Finding(STRUCTURE, f"bytes in the {name}", name))
                values += [(name, False, text) for text in _decodings(extra, ())]
        indexes = self._indexes(original)
        uids = [] if self.uids_kept else self._uids(original)
        for path, technical, text in values:
            index = indexes[technical]
            findings += self._residuals(path, text, index, uids)
            findings += self._patterns(path, text)
        findings += self._uid_elements(outgoing.elements, uids)
        return sorted(set(findings), key=str)

    def _searched(self, elements: list[Element], own: set[str]) -> Iterator[tuple[str, bool, str]]:
        """(path, whether a technical attribute, text) of every value that may carry an
        identifier, in each decoding."""
        for element in elements:
            if element.top in _TOOL_TAGS:
                continue
            if element.top in self._own_value_tags and _stripped(element.value) in own:
                continue
            if element.vr in SEARCHED_VRS or element.vr in SEARCHED_BINARY_VRS:
                technical = element.tag in TECHNICAL_TAGS
                for text in _decodings(element.value, element.character_sets):
                    yield element.path, technical, text

    def _indexes(self, original: OriginalIdentifiers) -> tuple[Index, Index]:
        """Spellings by their first word, made once per header content: all of them, and for
        the technical attributes those that equal no technical value of the header."""
        key = original.key()
        if key not in self._spellings:
            if len(self._spellings) >= 256:
                self._spellings.clear()
            spelled = list(_spellings(original, self.profile, self.dates_kept))
            technical = set()
            for value in original.technical:  # whole, and word by word (TOSHIBA_MEC: TOSHIBA)
                technical |= {normal(value), *normal(value.replace("_", " ")).split()}
            self._spellings[key] = (
                _by_first_word(spelled),
                _by_first_word([(s, k) for s, k in spelled if " ".join(s) not in technical]),
            )
        return self._spellings[key]

    def _residuals(
        self,
        path: str,
        text: str,
        index: Index,
        uids: list[tuple[str, str]],
    ) -> Iterator[Finding]:
        kinds = _spelled(normal(text).split(), index, specific_only=False)
        if "_" in text:  # `_` joins a technical token, but not a whole name or a hospital's
            kinds |= _spelled(normal(text.replace("_", " ")).split(), index, specific_only=True)
        digit_groups = _ID_DIGIT_GROUPS.findall(text) if _HAS_DIGIT.search(text) else []
        for group in digit_groups:  # an ID's digits written in parts (QD/730/5518)
            kinds |= _digit_cores(_DIGITS.findall(group), index)
        for kind in sorted(kinds):
            yield Finding(RESIDUAL, kind, path, _excerpt(text))
        for uid, kind in uids:
            if _holds_uid(text, uid):
                yield Finding(RESIDUAL, kind, path, _excerpt(text))

    def _uids(self, original: OriginalIdentifiers) -> list[tuple[str, str]]:
        return [
            (uid, f"{Kind.UID} ({_source(sources)})")
            for uid, sources in original.uids.items()
            if self.profile.seeks(sources) and not uid.startswith(DICOM_UID_ROOT)
        ]

    def _uid_elements(
        self, elements: list[Element], uids: list[tuple[str, str]]
    ) -> Iterator[Finding]:
        """An original instance UID kept in a UI element."""
        if not uids:
            return
        wanted = dict(uids)
        for element in elements:
            if element.vr == "UI":
                for uid in element.value.rstrip(b"\x00 ").decode("ascii", "replace").split("\\"):
                    if uid in wanted:
                        yield Finding(RESIDUAL, wanted[uid], element.path, uid)

    def _patterns(self, path: str, text: str) -> Iterator[Finding]:
        """Identifiers of anyone: NHS and CHI numbers, UK telephone numbers and postcodes,
        e-mail addresses, URLs and the trust's hospital-number pattern."""
        if not text.isascii():  # full-width digits and letters as ASCII
            text = unicodedata.normalize("NFKC", text)
        if _HAS_DIGIT.search(text):  # numbers and postcodes all hold a digit
            for group in _DIGIT_GROUPS.findall(text) + _DOTTED_NHS.findall(text):
                for kind, _ in _digit_runs(_DIGITS.findall(group)):
                    yield Finding(kind, "in text", path, _excerpt(text))
            for first, second in pairwise([*_words(text), ""]):
                whole = first + second if _INWARD.fullmatch(second) else first
                outward = whole[:-3] if len(whole) > 3 else ""
                if _INWARD.fullmatch(whole[-3:]) and _OUTWARD.fullmatch(outward):
                    yield Finding("postcode", "in text", path, _excerpt(text))
        patterns = [("hospital number", self.local_id)] if self.local_id else []
        if "@" in text:
            patterns.append(("e-mail address", _EMAIL))
        if "/" in text or "." in text:
            patterns.append(("URL", _URL))
        for kind, pattern in patterns:
            if pattern.search(text):
                yield Finding(kind, "in text", path, _excerpt(text))

    def _structure(self, elements: list[Element]) -> list[Finding]:
        findings = []
        creators: dict[tuple[str, int], str] = {}
        removed = False
        for element in elements:
            tag, group = element.tag, element.tag >> 16
            if tag == 0x00120062:
                removed = element.value.rstrip(b"\x00 ") == b"YES"
            if group % 2:
                where = element.path[: -len(tag_text(tag))]
                if is_private_creator(tag):
                    creators[(where, tag)] = element.value.decode("latin-1")
                if not self._private_kept(tag, creators.get((where, creator_of(tag)), "")):
                    findings.append(Finding(STRUCTURE, "private element", element.path))
            elif group & 0xFF00 in (0x5000, 0x6000) and not self._kept(tag):
                findings.append(
                    Finding(STRUCTURE, f"curve or overlay group {group:04X}", element.path)
                )
            elif tag >> 16 != 0xFFFE and dictionary_vr(tag) is None and not self._kept(tag):
                # Damage, or an attribute newer than our dictionary: nobody can say whether
                # it identifies, so it does not leave unless a profile line keeps it.
                findings.append(Finding(STRUCTURE, "element unknown to DICOM", element.path))
        if not removed:
            findings.append(Finding(STRUCTURE, "PatientIdentityRemoved is not YES"))
        return findings

    def _kept(self, tag: int) -> bool:
        rule = self.profile.rule_for(tag)
        return rule is not None and rule.action is Action.KEEP

    def _private_kept(self, tag: int, creator: str) -> bool:
        """Only private elements (and their creators) that a profile line keeps may remain."""
        element = tag & 0xFFFF
        if element < 0x1000:
            return 0x10 <= element <= 0xFF and self.profile.keeps_private
        rule = self.profile.private_rule_for(tag, creator.rstrip("\x00 "))
        return rule is not None and rule.action is Action.KEEP


Index = dict[str, list[tuple[Words, str]]]


def _spelled(words: list[str], index: Index, specific_only: bool) -> set[str]:
    """The kinds of the spellings that stand in `words`; with `specific_only`, only those of
    several words or of four letters or more (what `_` may join to a name: BANNERMAN_LDCT)."""
    kinds = set()
    for position, word in enumerate(words):
        if len(word) in (10, 12, 14) and word.isdigit():  # a date with a time: 19570923083000
            kinds |= {k for spelling, k in index.get(word[:8], ()) if k.startswith(Kind.DATE)}
        for spelling, kind in index.get(word, ()):
            if specific_only and len(spelling) < 2 and len(spelling[0]) <= MIN_WORD:
                continue
            if tuple(words[position : position + len(spelling)]) == spelling:
                kinds.add(kind)
    return kinds


def _digit_cores(parts: list[str], index: Index) -> set[str]:
    """The kinds of the IDs whose digits stand in a number written in parts (9988 7766)."""
    kinds = set()
    for start in range(len(parts)):
        digits = ""
        for part in parts[start:]:
            digits += part
            if len(digits) > 20:
                break
            kinds |= {kind for spelling, kind in index.get(digits, ()) if spelling == (digits,)}
    return kinds


def _stripped(value: bytes) -> str:
    return value.decode("latin-1").rstrip(" \x00")


def _excerpt(text: str) -> str:
    """The value a finding was made in, for the reviewer: printable, and not too long."""
    printable = "".join(c if c.isprintable() else " " for c in text).strip()
    return printable if len(printable) <= 200 else printable[:200] + "..."


def _by_first_word(spellings: list[tuple[Words, str]]) -> Index:
    index: Index = {}
    for spelling, kind in spellings:
        index.setdefault(spelling[0], []).append((spelling, kind))
    return index


def _decodings(value: bytes, character_sets: tuple[str, ...]) -> list[str]:
    """A value as text: once when it is plain ASCII, else in the declared character sets and
    as Latin-1, UTF-8 and UTF-16 (an identifier may hide in any of them)."""
    if value.isascii() and b"\x00" not in value.rstrip(b"\x00"):
        return [value.decode("ascii")]
    texts = {value.decode("latin-1"), value.decode("utf-8", "replace")}
    for codec in ("utf-16-le", "utf-16-be"):
        texts.add(value[: len(value) & ~1].decode(codec, "replace"))
    if character_sets:
        with suppress(LookupError, ValueError):  # an unknown character set: the others still run
            texts.add(decode_bytes(value, convert_encodings(list(character_sets)), {0x5E, 0x3D}))
    return sorted(texts)


def _holds_uid(text: str, uid: str) -> bool:
    """A UID in text, not as the start or end of a longer UID."""
    start = text.find(uid)
    while start != -1:
        before = text[start - 1] if start else " "
        end = start + len(uid)
        after = text[end] if end < len(text) else " "
        if not (before.isdigit() or before == ".") and not (after.isdigit() or after == "."):
            return True
        start = text.find(uid, start + 1)
    return False


def _digit_runs(run: list[str]) -> Iterator[tuple[str, str]]:
    """NHS or CHI numbers (ten digits, valid check digit) and UK telephone numbers in one
    number written in parts, whatever its spacing."""
    for start in range(len(run)):
        digits = ""
        for part in run[start:]:
            digits += part
            if len(digits) > 14:  # 0044 and ten digits
                break
            if len(digits) == 10 and is_nhs_number(digits):
                yield "NHS or CHI number", digits
            if _uk_telephone(digits):
                yield "telephone number", digits


def _uk_telephone(digits: str) -> bool:
    """0 and ten or nine digits, the first not 0; or the same after 44 (an optional 0)."""
    digits = digits.removeprefix("00")  # 0044 1632 960190
    national = "0" + digits[2:].removeprefix("0") if digits.startswith("44") else digits
    return len(national) in (10, 11) and national[0] == "0" and national[1] != "0"


def _source(sources: frozenset[int]) -> str:
    """The attribute a value is named after: the dataset's own before the file meta's."""
    tag = min(sources, key=lambda tag: (tag >> 16 == 0x0002, tag))
    return keyword_of(tag) or tag_text(tag)


def _spellings(
    original: OriginalIdentifiers, profile: Profile, dates_kept: bool
) -> Iterator[tuple[Words, str]]:
    """Every identifier of the header as word sequences, with its kind; what the profile keeps
    is left out."""
    makers = {
        Kind.NAME: _name_spellings,
        Kind.ID: _id_spellings,
        Kind.PLACE: _place_spellings,
        Kind.ADDRESS: _address_spellings,
    }
    for kind, make in makers.items():
        for value, sources in original.of(kind).items():
            if not profile.seeks(sources):
                continue
            label = f"{kind} ({_source(sources)})"
            for spelling in sorted(set(make(value))):
                yield spelling, label
    if not dates_kept:
        for day, sources in original.dates.items():
            if profile.seeks(sources):
                label = f"{Kind.DATE} ({_source(sources)})"
                yield from ((spelling, label) for spelling in _date_spellings(day))


def _long_enough(words: Words) -> bool:
    letters = sum(len(word) for word in words)
    if all(word.isdigit() for word in words):
        return letters >= MIN_DIGITS
    return letters >= MIN_WORD


def _name_spellings(value: str) -> Iterator[Words]:
    for group in value.split("="):
        for form in {group, _umlauts_spelled(group)}:
            components = [tuple(normal(part).split()) for part in form.split("^")[:3]]
            for words in list(components):
                components += [tuple(f.split()) for f in name_forms(" ".join(words))]
            for words in components:
                if words and _long_enough(words):
                    yield words
                    yield ("".join(words),)  # O'NEILL as ONEILL
                yield from (
                    (word,)
                    for word in words
                    if len(word) >= MIN_WORD and word not in NAME_PARTICLES
                )
            if len(components) >= 2 and components[0] and components[1]:
                family, given = components[0], components[1]
                yield family + given
                yield given + family
                yield ("_".join(family + given),)
                yield ("_".join(given + family),)
                yield ("".join(family + given),)  # 王秀英, written without a space
                yield ("".join(family) + given[0][0],)  # a RIS name key: OKONKWOA
                yield (given[0][0] + "".join(family),)


def _umlauts_spelled(text: str) -> str:
    for umlaut, spelled in zip("ÄÖÜäöü", ("AE", "OE", "UE", "ae", "oe", "ue"), strict=True):
        text = text.replace(umlaut, spelled)
    return text


def _id_spellings(value: str) -> Iterator[Words]:
    words = tuple(normal(value).split())
    if words and _long_enough(words) and sum(map(len, words)) > MIN_WORD:
        yield words
        digits = "".join(word for word in words if word.isdigit())  # CT20-0457 as 200457
        numbers = {digits, digits.lstrip("0"), *(word for word in words if word.isdigit())}
        for number in numbers:  # 00412873 written as 412873 too
            if len(number) >= MIN_DIGITS:
                yield (number,)


def _place_spellings(value: str) -> Iterator[Words]:
    words = tuple(normal(value).split())
    distinctive = [
        w for w in words if w.isalpha() and len(w) > MIN_WORD and w not in GENERIC_PLACE_WORDS
    ]
    if not distinctive:
        return
    for start in range(len(words)):  # every run of words with a distinctive one in it
        for end in range(start + 1, len(words) + 1):
            if any(word in distinctive for word in words[start:end]):
                yield words[start:end]
                if end - start == 2:
                    yield ("".join(words[start:end]),)
    initials = [w[0] for w in words if w.isalpha() and w not in ("THE", "OF", "AND", "FOR")]
    for letters in ("".join(initials), "".join(initials[1:])):
        if len(letters) >= MIN_WORD:
            yield (letters,)
            yield tuple(letters)  # H.P.H.


def _address_spellings(value: str) -> Iterator[Words]:
    for part in re.split(r"[\^,;\r\n]+", value):
        words = tuple(normal(part).split())
        if words and words[0].isdigit():
            yield from _id_spellings(part)
            words = words[1:]
        if words and sum(len(w) for w in words if w.isalpha()) > MIN_WORD:
            yield words


def _date_spellings(day: date) -> Iterable[Words]:
    """A date as the words of its common spellings (separators are gone once normalised)."""
    days = {str(day.day), f"{day.day:02d}"}
    months = {str(day.month), f"{day.month:02d}", *MONTH_WORDS[day.month - 1]}
    years = {str(day.year), f"{day.year % 100:02d}"}
    spelled_days = {(d,) for d in days} | {
        (d, suffix) for d in days for suffix in ("ST", "ND", "RD", "TH")
    }
    spelled_days |= {(*d, "OF") for d in list(spelled_days)}
    found: set[Words] = {
        (f"{day:%Y%m%d}",),
        (f"{day:%d%m%Y}",),
        (f"{day:%d%m%y}",),
        (f"{day:%y%m%d}",),
    }
    for spelled in spelled_days:
        for month in months:
            for year in years:
                found.add((*spelled, month, year))
                if not month.isdigit() or len(spelled) == 1:
                    found.add((month, *spelled, year))
    for month in months:
        for number in days:
            found.add((str(day.year), month, number))
    return found
