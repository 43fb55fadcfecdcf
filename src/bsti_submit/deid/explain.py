"""A compiled profile in plain English, for a trust's Caldicott Guardian and IG officer.

Every statement is derived from the profile's effective rules (`Profile.rule_for`, which a later
line wins), its options, additions and burned-in text setting, and from
`less_protective_than_basic` with the `# justification: ...` text of each such line: change a
rule and the text changes. What the tool does with a kind of rule (how a date moves, what
cleaning removes) is the engine's, the same for every profile. The output is deterministic:
sorted, no timestamps, file names without their folders.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydicom.datadict import dictionary_is_retired, dictionary_VR, keyword_for_tag, tag_for_keyword

from ..dicomio.elements import tag_text
from ..errors import ConfigError
from .profile import (
    JUSTIFICATION,
    PRIVATE_FIELD,
    Action,
    Addition,
    Finding,
    Profile,
    Rule,
    field_keyword,
    less_protective_than_basic,
)
from .pseudonym import MAX_DATE_SHIFT_DAYS
from .standard import DEIDENTIFICATION_METHODS, OPTIONS

WIDTH = 100
EXAMPLES = 6  # attributes named in a list that gives a count; `profile show --full` has all
PIXEL_DATA = 0x7FE00010
PATIENT_GROUP = 0x0010

# Attributes a reviewer asks about that Table E.1-1 does not list: said to be kept only while
# the profile has no line for them (a line puts them where that line says).
NOTABLE_UNNAMED = (
    "Modality",
    "BodyPartExamined",
    "ViewPosition",
    "ImageType",
    "Manufacturer",
    "ManufacturerModelName",
    "SoftwareVersions",
    "SliceThickness",
    "KVP",
    "PixelSpacing",
)

# Headings for kept attributes, by DICOM group.
GROUP_HEADINGS = {
    0x0008: "Study, series and equipment",
    0x0010: "The patient",
    0x0012: "Clinical trial",
    0x0018: "Acquisition and equipment",
    0x0020: "Position and relationships of images",
    0x0028: "Image pixel description",
    0x0032: "Study request (retired)",
    0x0038: "Visit and admission",
    0x0040: "Procedure, request and workflow",
    0x0070: "Presentation and annotation",
    0x0072: "Hanging protocols",
    0x0400: "Signatures and encryption",
    0x4008: "Results and interpretation (retired)",
}
RADIOTHERAPY_GROUPS = range(0x3002, 0x3012)

GUESSED_VRS = ((r"Sequence$", "SQ"), (r"\bComment", "LT"), (r"\bNames?\b", "PN"))

ACTION_WORDS = {
    Action.REMOVE: "removed",
    Action.BLANK: "emptied",
    Action.DUMMY: "given dummy values",
    Action.UID: "given new UIDs",
    Action.PSEUDONYM: "given the pseudonym",
    Action.REPLACE: "given a fixed value",
    Action.CLEAN: "cleaned",
    Action.SHIFT_DATE: "dates moved",
    Action.KEEP: "kept",
}


@dataclass(frozen=True)
class _Kind:
    heading: str
    test: Callable[[str, str], bool]  # (keyword, VR) -> whether an attribute is of this kind


def _matches(pattern: str) -> Callable[[str, str], bool]:
    compiled = re.compile(pattern)
    return lambda keyword, _vr: bool(compiled.search(keyword))


def _has_vr(*vrs: str) -> Callable[[str, str], bool]:
    return lambda _keyword, vr: vr in vrs


# What kind of information an attribute holds, first match wins; for removed and replaced
# attributes, which are counted rather than all named.
KINDS = (
    _Kind("Sequences, with everything in them", _has_vr("SQ")),
    _Kind("Names of people", _has_vr("PN")),
    _Kind("UIDs", _has_vr("UI")),
    _Kind("Dates", _has_vr("DA", "DT")),
    _Kind("Times of day", _has_vr("TM")),
    _Kind("Addresses, telephone numbers and e-mail", _matches("Address|Telephone|Telecom|Mail")),
    _Kind("Identifiers and numbers", _matches(r"(ID|IDs|Identifier|Number|Numbers|Serial)")),
    _Kind("Places, devices and organisations", _matches("Institution|Station|Location|Device")),
    _Kind("Descriptions, comments and other text", _has_vr("LO", "SH", "ST", "LT", "UT", "UC")),
    _Kind("Other", lambda _keyword, _vr: True),
)


@dataclass(frozen=True)
class _Entry:
    """One attribute named by the profile, with the rule that wins for it."""

    tag: int
    keyword: str
    vr: str
    rule: Rule
    retired: bool


def explain(profile: Profile) -> str:
    """The profile in plain English Markdown: what it removes, replaces and keeps, and where it
    protects less than PS3.15 basic with each line's justification."""
    entries = _entries(profile)
    sections = [
        _heading(profile),
        _summary(profile, entries),
        _removed(profile, entries),
        _replaced(profile, entries),
        _kept(profile, entries),
        _relaxed(profile),
    ]
    return "\n\n".join(section for section in sections if section)


def write(text: str, path: Path) -> None:
    """Write an explanation to a file, as one clear error when it cannot be."""
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path} cannot be written: {error.strerror or error}") from error


# The attributes and their rules.


def _entries(profile: Profile) -> list[_Entry]:
    """Every public attribute named by an exact line, with its winning rule (a later mask line
    may win over it), in tag order."""
    entries = []
    for tag in sorted(profile.exact):
        rule = profile.rule_for(tag)
        if rule is not None:
            name = _name(tag, profile.exact[tag].source)
            entries.append(_Entry(tag, name, _vr(tag, name), rule, _retired(tag)))
    return entries


def _keyword(tag: int) -> str:
    return str(keyword_for_tag(tag) or tag_text(tag))


def _name(tag: int, source: str) -> str:
    """The attribute's keyword; for one newer than pydicom's dictionary, the name its profile
    line gives in its comment; else its tag."""
    keyword = keyword_for_tag(tag)
    if keyword:
        return str(keyword)
    named = _comment_name(source)
    return named or tag_text(tag)


def _vr(tag: int, name: str) -> str:
    """The attribute's VR; for one newer than pydicom's dictionary, a guess from its name that
    is good enough to say what kind of information it is."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return next((vr for pattern, vr in GUESSED_VRS if re.search(pattern, name)), "")


def _retired(tag: int) -> bool:
    try:
        return bool(dictionary_is_retired(tag))
    except KeyError:
        return False


def _with(entries: Iterable[_Entry], *actions: Action) -> list[_Entry]:
    return [entry for entry in entries if entry.rule.action in actions]


def _kind(entry: _Entry) -> str:
    return next(kind.heading for kind in KINDS if kind.test(entry.keyword, entry.vr))


# Sections.


def _heading(profile: Profile) -> str:
    files = ", ".join(f"`{Path(source).name}`" for source in profile.sources)
    layered = " (each extends the one before)" if len(profile.sources) > 1 else ""
    options = "; ".join(
        f"{DEIDENTIFICATION_METHODS.get(OPTIONS[name].code, name)} ({OPTIONS[name].code})"
        for name in profile.options
    )
    rows = [
        ("Profile", profile.label),
        ("Files" if layered else "File", files + layered),
        ("sha256", f"`{profile.sha256}` (as in audit logs and receipts)"),
        ("Based on", f"DICOM PS3.15 {DEIDENTIFICATION_METHODS['113100']} (113100)"),
        ("Options", options or "none"),
        ("Burned-in text", f"`{profile.burned_in_text}`"),
    ]
    table = "\n".join(["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])
    return "\n\n".join(
        [
            f"## Profile {profile.label} in plain English",
            table,
            _wrap(
                "Generated from the profile's rules by `bsti-submit profile explain`; every rule "
                "is listed by `bsti-submit profile show --full`."
            ),
        ]
    )


def _summary(profile: Profile, entries: list[_Entry]) -> str:
    """The counts of the sections below, in one paragraph."""

    def count(action: Action, what: str, times: bool | None = None) -> str:
        found = [e for e in _with(entries, action) if times is None or (e.vr == "TM") is times]
        return f"{len(found)} {what}" if found else ""

    private = profile.private.action if profile.private else Action.KEEP
    removes = count(Action.REMOVE, "named attributes") or "no named attribute"
    emptied = len(_with(entries, Action.BLANK))
    removal = (
        f"In short, it removes {removes} and every private attribute, and empties {emptied}."
        if private is Action.REMOVE
        else f"In short, it removes {removes} and empties {emptied}; private attributes are "
        f"{ACTION_WORDS[private]}."
    )
    replaces = _joined(
        count(Action.PSEUDONYM, "with the patient's pseudonym"),
        count(Action.UID, "with new UIDs"),
        count(Action.DUMMY, "with dummy values"),
        count(Action.REPLACE, "with fixed values"),
    )
    keeps = _joined(
        count(Action.KEEP, "named attributes as they are"),
        count(Action.SHIFT_DATE, "times of day", times=True),
        count(Action.CLEAN, "descriptions after cleaning"),
        "every attribute it does not name",
    )
    sentences = [
        removal,
        f"It replaces {replaces}." if replaces else "",
        _sentence("It moves", count(Action.SHIFT_DATE, "dates", times=False)),
        f"It keeps {keeps}.",
        _pixels_in_short(profile),
    ]
    return _wrap(" ".join(sentence for sentence in sentences if sentence))


def _joined(*parts: str) -> str:
    present = [part for part in parts if part]
    return (
        ", ".join(present[:-1]) + (" and " if len(present) > 1 else "") + present[-1]
        if present
        else ""
    )


def _sentence(start: str, rest: str) -> str:
    return f"{start} {rest}." if rest else ""


def _pixels_in_short(profile: Profile) -> str:
    if not profile.keeps(PIXEL_DATA):
        return "It does not keep the pixels."
    if profile.burned_in_text == "mask":
        return "It keeps the pixels, with burned-in text masked."
    return "It keeps the pixels, but holds an image with burned-in text for review."


def _removed(profile: Profile, entries: list[_Entry]) -> str:
    removed, blanked = _with(entries, Action.REMOVE), _with(entries, Action.BLANK)
    lines = [
        "### What it removes",
        _wrap(
            f"{len(removed)} attributes are removed and {len(blanked)} are emptied (kept with "
            "no value). By kind, with examples:"
        ),
        _by_kind([*removed, *blanked]),
    ]
    lines += ["Whole groups and ranges, by tag mask:", _removed_whole(profile)]
    return "\n\n".join(lines)


def _by_kind(entries: list[_Entry]) -> str:
    groups: dict[str, list[_Entry]] = {}
    for entry in entries:
        groups.setdefault(_kind(entry), []).append(entry)
    return "\n".join(
        _item(f"{kind.heading} ({len(found)}): {_examples(found, patient_first=True)}")
        for kind in KINDS
        if (found := groups.get(kind.heading))
    )


def _removed_whole(profile: Profile) -> str:
    """The mask lines, and the line for every private attribute: groups and ranges of tags."""
    items = [
        _item(f"`{mask.pattern}` {ACTION_WORDS[mask.rule.action]}: {_comment(mask.rule)}")
        for index, mask in enumerate(profile.masks)
        if not _hidden(profile, index)
    ]
    private = profile.private.action if profile.private else Action.KEEP
    kept = " (except those kept by creator, below)" if _private_kept(profile) else ""
    items.append(_item(f"`{PRIVATE_FIELD}` {ACTION_WORDS[private]}: every private attribute{kept}"))
    return "\n".join(sorted(items))


def _hidden(profile: Profile, index: int) -> bool:
    """A mask line that says nothing of its own: another mask line covering at least its tags
    wins over it, or covers more of them and does the same."""
    own = profile.masks[index]
    for other in profile.masks:
        covers = other.mask & own.mask == other.mask and own.match & other.mask == other.match
        larger = (other.mask, other.match) != (own.mask, own.match)
        if other is own or not covers:
            continue
        if other.rule.order > own.rule.order or (larger and other.rule.action is own.rule.action):
            return True
    return False


def _replaced(profile: Profile, entries: list[_Entry]) -> str:
    dates = [entry for entry in _with(entries, Action.SHIFT_DATE) if entry.vr != "TM"]
    items = [
        _rule_item(
            "The patient's pseudonym",
            _with(entries, Action.PSEUDONYM),
            "`<site>-<code>`, a keyed hash of the issuer and Patient ID: the same for a patient "
            "in every submission; only the trust, with its key and lookup table, can map it "
            "back (`bsti-submit lookup`)",
            every=True,
        ),
        _rule_item(
            "New UIDs",
            _with(entries, Action.UID),
            "`2.25.<number>` keyed from the original: the same original always gives the same "
            "new UID, so studies and series stay linked, and the original cannot be worked out",
        ),
        _rule_item(
            "Dummy values",
            _with(entries, Action.DUMMY),
            "a placeholder valid for the attribute (ANONYMISED, 0, 19000101; a UID gets a new "
            "keyed UID)",
        ),
        _fixed_values(_with(entries, Action.REPLACE)),
        _rule_item(
            "Dates moved",
            dates,
            f"every date moves back by the same number of days for a patient (1 to "
            f"{MAX_DATE_SHIFT_DAYS}, from the trust's key), so intervals between one "
            "patient's scans stay exact; a value that is not a full date is emptied",
        ),
    ]
    body = "\n".join(item for item in items if item)
    return "\n\n".join(["### What it replaces", body]) if body else ""


def _rule_item(name: str, entries: list[_Entry], meaning: str, every: bool = False) -> str:
    if not entries:
        return ""
    listed = ", ".join(entry.keyword for entry in entries) if every else _examples(entries)
    return _item(f"**{name}** ({len(entries)}): {meaning}. {listed}")


def _fixed_values(entries: list[_Entry]) -> str:
    if not entries:
        return ""
    values = ", ".join(f"{entry.keyword} = {_code(entry.rule.value)}" for entry in entries)
    return _item(f"**Fixed values** ({len(entries)}): {values}")


def _kept(profile: Profile, entries: list[_Entry]) -> str:
    times = [entry for entry in _with(entries, Action.SHIFT_DATE) if entry.vr == "TM"]
    cleaned = _with(entries, Action.CLEAN)
    lines = ["### What it keeps", _kept_as_they_are(profile, entries)]
    changed = [
        _rule_item(
            "Times of day",
            times,
            "kept as they are: dates move by whole days, which leaves the time of day",
        ),
        _rule_item(
            "Descriptions and coded values, after cleaning",
            cleaned,
            "kept after removing every identifier of the same file (names, IDs, dates, "
            "addresses, the institution) and anything shaped like an NHS or CHI number, a UK "
            "telephone number or postcode, an e-mail address or a URL",
        ),
    ]
    if any(changed):
        lines += ["Kept with changes:", "\n".join(item for item in changed if item)]
    lines += [_unnamed(profile), _added(profile), _pixels(profile)]
    return "\n\n".join(line for line in lines if line)


def _kept_as_they_are(profile: Profile, entries: list[_Entry]) -> str:
    kept = _with(entries, Action.KEEP)
    groups: dict[str, list[str]] = {}
    for entry in kept:
        groups.setdefault(_group_heading(entry.tag), []).append(entry.keyword)
    private = _private_kept(profile)
    if private:
        groups["Private attributes, by creator"] = [f"`{field}`" for field in private]
    if not groups:
        return "No line keeps an attribute as it is."
    items = "\n".join(_item(f"{name}: {', '.join(groups[name])}") for name in sorted(groups))
    count = sum(map(len, groups.values()))
    text = f"Kept as they are, by a KEEP line ({count}):\n\n{items}"
    if any(entry.vr == "SQ" for entry in kept):
        text += "\n\nThe items of a kept sequence are cleaned by the same rules."
    return text


def _private_kept(profile: Profile) -> list[str]:
    """The private attributes a line keeps by creator, where that line wins."""
    return sorted(
        f'({group:04X},"{creator}",{element:02X})'
        for (group, creator, element) in profile.private_by_creator
        if (rule := profile.private_rule_for(group << 16 | 0x1000 | element, creator))
        and rule.action is Action.KEEP
    )


def _group_heading(tag: int) -> str:
    group = tag >> 16
    if group in RADIOTHERAPY_GROUPS:
        return "Radiotherapy"
    return GROUP_HEADINGS.get(group, f"Group {group:04X}")


def _unnamed(profile: Profile) -> str:
    unnamed = [
        keyword
        for keyword in NOTABLE_UNNAMED
        if (tag := tag_for_keyword(keyword)) is not None and profile.rule_for(tag) is None
    ]
    if not unnamed:
        return ""
    return _wrap(
        "Kept because the profile has no line for them, as is every public attribute it does "
        f"not name: for example {', '.join(unnamed)}. Every value kept, named or not, is still "
        "searched for the same file's identifiers and cleaned of them."
    )


def _added(profile: Profile) -> str:
    if not profile.additions:
        return ""
    items = "\n".join(_item(_addition(addition)) for addition in profile.additions)
    return f"Set in every instance after cleaning:\n\n{items}"


def _addition(addition: Addition) -> str:
    meaning = {
        "func:patient_pseudonym": "the patient's pseudonym",
        "func:site_code": "the trust's site code",
        "func:patient_age": "the age from the birth date and study date, when the file has none",
    }
    value = meaning.get(addition.value) or (_code(addition.value) if addition.value else "empty")
    return f"{_keyword(addition.tag)}: {value}"


def _pixels(profile: Profile) -> str:
    if not profile.keeps(PIXEL_DATA):
        return _wrap("The pixels (PixelData) are not kept.")
    if profile.burned_in_text == "mask":
        text = (
            "each region of text found in them is blanked, except one that is only a laterality "
            "or positioning marker or a scale and matches no identifier"
        )
    else:
        text = "an image with text found in them is held in the trust's quarantine for review"
    masks = ", ".join(f"`{Path(path).name}`" for path in profile.mask_sources)
    fixed = (
        f" The fixed regions of the `%filter` rules in {masks} are blanked too." if masks else ""
    )
    return _wrap(
        f"The pixels are kept. Burned-in text (`burned_in_text: {profile.burned_in_text}`): "
        f"{text}. An image that says it has burned-in text where none is found, or whose "
        f"pixels cannot be decoded, is held.{fixed}"
    )


def _relaxed(profile: Profile) -> str:
    findings = less_protective_than_basic(profile)
    title = "### Where it protects less than PS3.15 basic"
    if not findings:
        return f"{title}\n\nNowhere: every attribute is treated at least as PS3.15 basic does."
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_justification(finding.source), []).append(finding)
    unjustified = groups.pop("", [])
    items = [
        _item(f"{_code(reason)} ({len(found)}): {_finding_examples(found)}")
        for reason, found in sorted(groups.items())
    ]
    if unjustified:
        names = ", ".join(_finding_name(finding) for finding in unjustified)
        items.insert(0, _item(f"**Without a justification** ({len(unjustified)}): {names}"))
    return "\n\n".join(
        [
            title,
            _wrap(
                f"{len(findings)} attributes, {len(findings) - len(unjustified)} of them with "
                "the justification written on the profile's line:"
            ),
            "\n".join(items),
        ]
    )


def _finding_name(finding: Finding) -> str:
    return field_keyword(finding.field) or _comment_name(finding.source) or _code(finding.field)


def _finding_examples(findings: list[Finding]) -> str:
    names = [_finding_name(finding) for finding in findings]
    return _listed(names)


# Text helpers.


def _examples(entries: list[_Entry], patient_first: bool = False) -> str:
    """Some keywords, current attributes first (and the patient's before them, if asked), in
    tag order; and how many more."""
    ordered = sorted(
        entries,
        key=lambda entry: (
            patient_first and entry.tag >> 16 != PATIENT_GROUP,
            entry.retired,
            entry.tag,
        ),
    )
    return _listed([entry.keyword for entry in ordered])


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - EXAMPLES} more" if len(names) > EXAMPLES else ""
    return ", ".join(names[:EXAMPLES]) + more


def _item(text: str) -> str:
    return textwrap.fill(
        text,
        WIDTH,
        initial_indent="- ",
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def _code(text: str) -> str:
    """Text as a Markdown code span, which shows `<site>` and the like as written."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if text else '`""`'


def _lines(path: str) -> tuple[str, ...]:
    """A profile file's lines, read once for as long as the file stays as it is."""
    try:
        stat = Path(path).stat()
    except OSError:
        return ()
    return _read_lines(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_lines(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return ()


def _line(source: str) -> str:
    """The text of a profile line named `path:number`."""
    path, _, number = source.rpartition(":")
    lines = _lines(path)
    index = int(number) - 1 if number.isdigit() else -1
    return lines[index] if 0 <= index < len(lines) else ""


def _justification(source: str) -> str:
    """The `justification: ...` text of a profile line, or ''."""
    line = _line(source)
    marker = line.lower().find(JUSTIFICATION)
    return line[marker:].strip() if marker >= 0 else ""


def _comment_name(source: str) -> str:
    """The attribute name a generated profile line gives after its PS3.15 code."""
    name = _comment_text(source).split(":")[0]
    return re.sub(r"\s+justification\b.*$", "", name, flags=re.IGNORECASE).strip()


def _comment_text(source: str) -> str:
    _, _, comment = _line(source).partition("#")
    return re.sub(r"^[XZDUKC/*]+\s+", "", comment.strip())


def _comment(rule: Rule) -> str:
    """A line's comment without its PS3.15 code column (`X`, `X/Z/D`...), or its place."""
    return (
        _comment_text(rule.source)
        or f"line {rule.source.rpartition(':')[2]} of `{Path(rule.source).name}`"
    )
