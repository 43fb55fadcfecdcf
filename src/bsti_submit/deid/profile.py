"""Load a de-identification profile (a deid recipe) and compile it once into a tag -> rule table.

Recipes are parsed with deid's own parser (`deid.config.DeidRecipe`), so a profile stays a file an
IG officer can read in deid's documented format. This module adds what deid leaves out: strict
validation with the file and line of each problem, `#@ key: value` metadata lines (which deid
reads as comments), layering (`#@ extends: NAME`), the PS3.15 options a profile claims, and the
compilation into a lookup table that the engine applies in one pass.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from ..dicomio.elements import parse_tag, tag_text
from ..errors import ProfileError
from .standard import DEFAULT_SOP_CLASSES, OPTIONS, load_table

DEFAULT_PROFILE = "bsti-covid19"
BASIC_PROFILE = "ps315-basic"
PROFILE_SUFFIX = ".deid"
SUPPORTED_ACTIONS = ("REMOVE", "BLANK", "REPLACE", "KEEP", "ADD")
PRIVATE_FIELD = "(gggg,eeee)"
JUSTIFICATION = "justification:"
_MAX_LAYERS = 8
_TAG_PATTERN = re.compile(r"^\(([0-9A-Fa-fx]{4}),([0-9A-Fa-fx]{4})\)$")
_PRIVATE_PATTERN = re.compile(r'^\(([0-9A-Fa-f]{4}),"([^"]+)",([0-9A-Fa-f]{2})\)$')
BURNED_IN_TEXT_CHOICES = ("mask", "hold")
_METADATA_PATTERN = re.compile(r"^#@\s*([a-z_]+)\s*:\s*(.*?)\s*$")


class Action(StrEnum):
    """What the engine does to an element; the names are the ones written to the audit log."""

    REMOVE = "REMOVE"
    BLANK = "BLANK"
    DUMMY = "DUMMY"
    UID = "UID"
    PSEUDONYM = "PSEUDONYM"
    REPLACE = "REPLACE"
    CLEAN = "CLEAN"
    SHIFT_DATE = "SHIFT_DATE"
    KEEP = "KEEP"


# How much each action protects, for "the more protective wins" and `profile check`.
PROTECTION = {
    Action.REMOVE: 5,
    Action.BLANK: 4,
    Action.DUMMY: 3,
    Action.UID: 3,
    Action.PSEUDONYM: 3,
    Action.REPLACE: 3,
    Action.CLEAN: 2,
    Action.SHIFT_DATE: 2,
    Action.KEEP: 1,
}

_REPLACE_FUNCTIONS = {
    "func:dummy": Action.DUMMY,
    "func:uid": Action.UID,
    "func:patient_pseudonym": Action.PSEUDONYM,
    "func:clean": Action.CLEAN,
    "func:shift_date": Action.SHIFT_DATE,
}
# Values an ADD line may compute; anything else is a literal value.
ADD_FUNCTIONS = ("func:patient_pseudonym", "func:site_code", "func:patient_age")


@dataclass(frozen=True)
class Rule:
    """One compiled recipe line. `order` is its position: a later line wins over an earlier."""

    action: Action
    order: int
    value: str = ""
    source: str = ""
    justified: bool = False


@dataclass(frozen=True)
class Addition:
    """An ADD line: set a top-level attribute after cleaning, to a literal or computed value."""

    tag: int
    value: str
    source: str


@dataclass(frozen=True)
class _MaskRule:
    mask: int
    match: int
    pattern: str
    rule: Rule


@dataclass
class Profile:
    """A compiled profile: rules by exact tag, by tag mask, for private elements (all, or by
    creator), and the additions; with the options it claims."""

    name: str
    version: str
    sha256: str
    sources: tuple[str, ...]
    options: tuple[str, ...]
    exact: dict[int, Rule]
    masks: list[_MaskRule]
    private: Rule | None
    private_by_creator: dict[tuple[int, str, int], Rule]
    additions: list[Addition]
    sop_classes: frozenset[str]
    mask_sources: tuple[Path, ...] = ()
    burned_in_text: str = "mask"  # or "hold": what happens to text found in the pixels
    _cache: dict[int, Rule | None] = field(default_factory=dict, repr=False)

    def rule_for(self, tag: int) -> Rule | None:
        """The winning rule for a public tag (or any private one, ignoring its creator), or None
        when the profile says nothing (keep)."""
        try:
            return self._cache[tag]
        except KeyError:
            rule = self._find_rule(tag)
            self._cache[tag] = rule
            return rule

    def _find_rule(self, tag: int) -> Rule | None:
        candidates = [m.rule for m in self.masks if tag & m.mask == m.match]
        if tag in self.exact:
            candidates.append(self.exact[tag])
        if self.private is not None and (tag >> 16) % 2 == 1:
            candidates.append(self.private)
        return max(candidates, key=lambda rule: rule.order, default=None)

    def private_rule_for(self, tag: int, creator: str) -> Rule | None:
        """The rule for a private data element of a block reserved by `creator`."""
        specific = self.private_by_creator.get((tag >> 16, creator.strip().lower(), tag & 0xFF))
        general = self.rule_for(tag)
        candidates = [rule for rule in (specific, general) if rule is not None]
        return max(candidates, key=lambda rule: rule.order, default=None)

    def keeps(self, tag: int) -> bool:
        """Whether a tag's values stay as they are: a KEEP line, or no line at all."""
        rule = self.rule_for(tag)
        return rule is None or rule.action is Action.KEEP

    def seeks(self, sources: frozenset[int]) -> bool:
        """An identifying value is sought in the output unless every attribute it came from is
        one this profile keeps: what a profile keeps on purpose is no finding."""
        return not all(self.keeps(tag) for tag in sources)

    @property
    def keeps_private(self) -> bool:
        """Whether any private element can survive this profile."""
        generic_keeps = self.private is not None and self.private.action is Action.KEEP
        return generic_keeps or any(
            rule.action is Action.KEEP for rule in self.private_by_creator.values()
        )

    def _uses(self, *actions: Action) -> bool:
        every = [
            *self.exact.values(),
            *(m.rule for m in self.masks),
            self.private,
            *self.private_by_creator.values(),
        ]
        return any(rule is not None and rule.action in actions for rule in every)

    def _adds(self, *functions: str) -> bool:
        return any(addition.value in functions for addition in self.additions)

    @property
    def needs_patient_id(self) -> bool:
        """Pseudonyms and date offsets are derived from each file's Patient ID."""
        return self._uses(Action.PSEUDONYM, Action.SHIFT_DATE) or self._adds(
            "func:patient_pseudonym"
        )

    @property
    def needs_site(self) -> bool:
        """Pseudonyms and the clinical trial site carry the trust's site code."""
        return self._uses(Action.PSEUDONYM) or self._adds(
            "func:patient_pseudonym", "func:site_code"
        )

    @property
    def cleans_text(self) -> bool:
        """Whether any rule cleans free text of the file's own identifiers."""
        return self._uses(Action.CLEAN)

    @property
    def method_codes(self) -> tuple[str, ...]:
        """CID 7050 codes of what this profile does: the basic profile and each option."""
        return ("113100", *sorted(OPTIONS[name].code for name in self.options))

    @property
    def label(self) -> str:
        """Name and version, as written to DeidentificationMethod."""
        return f"{self.name} {self.version}"

    def rules(self) -> list[tuple[str, Rule]]:
        """Every effective rule with the field it applies to, in file order."""
        found: list[tuple[str, Rule]] = [(tag_text(tag), rule) for tag, rule in self.exact.items()]
        found += [(mask.pattern, mask.rule) for mask in self.masks]
        found += [
            (f'({group:04X},"{creator}",{element:02X})', rule)
            for (group, creator, element), rule in self.private_by_creator.items()
        ]
        if self.private is not None:
            found.append((PRIVATE_FIELD, self.private))
        return sorted(found, key=lambda item: item[1].order)


def builtin_profiles_dir() -> Path:
    """Where the built-in profiles are: inside the installed package, or the source checkout's
    `profiles/` when running from an editable install (which has no copy in the package)."""
    packaged = Path(str(resources.files("bsti_submit"))) / "profiles"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "profiles"


def builtin_profile_names() -> list[str]:
    """The names accepted by `--profile NAME`."""
    return sorted(path.stem for path in builtin_profiles_dir().glob(f"*{PROFILE_SUFFIX}"))


def resolve_profile_path(name_or_file: str, relative_to: Path | None = None) -> Path:
    """A built-in profile's name or a recipe file's path, as a path that exists."""
    candidate = Path(name_or_file)
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    if candidate.suffix == PROFILE_SUFFIX or candidate.exists():
        if not candidate.is_file():
            raise ProfileError(f"profile file {candidate} does not exist")
        return candidate
    builtin = builtin_profiles_dir() / f"{name_or_file}{PROFILE_SUFFIX}"
    if not builtin.is_file():
        known = ", ".join(builtin_profile_names())
        raise ProfileError(f"no built-in profile named {name_or_file!r} (built-in: {known})")
    return builtin


@dataclass
class _Layer:
    path: Path
    text: str
    metadata: dict[str, str]
    action_lines: list[tuple[int, str]]


def load_profile(name_or_file: str = DEFAULT_PROFILE) -> Profile:
    """Find, validate, parse and compile a profile, with the profiles it extends beneath it."""
    layers = _load_layers(resolve_profile_path(name_or_file))
    compiler = _Compiler()
    for layer in layers:
        compiler.add(layer)
    top = layers[-1].metadata
    options = _inherited(layers, "options", "")
    burned_in_text = _inherited(layers, "burned_in_text", "mask")
    if burned_in_text not in BURNED_IN_TEXT_CHOICES:
        raise ProfileError(
            f"profile {layers[-1].path}: burned_in_text is {burned_in_text!r}; "
            f"it must be one of {', '.join(BURNED_IN_TEXT_CHOICES)}"
        )
    profile = Profile(
        name=top.get("name", layers[-1].path.stem),
        version=top.get("version", "unversioned"),
        sha256=hashlib.sha256("".join(layer.text for layer in layers).encode()).hexdigest(),
        sources=tuple(str(layer.path) for layer in layers),
        options=_parse_options(layers[-1].path, options),
        exact=compiler.exact,
        masks=compiler.masks,
        private=compiler.private,
        private_by_creator=compiler.private_by_creator,
        additions=compiler.additions,
        sop_classes=_sop_classes(layers),
        mask_sources=tuple(compiler.mask_sources),
        burned_in_text=burned_in_text,
    )
    _check_claims(profile)
    return profile


def _inherited(layers: list[_Layer], key: str, default: str) -> str:
    """A metadata value from the top-most layer that sets it."""
    return next(
        (layer.metadata[key] for layer in reversed(layers) if key in layer.metadata), default
    )


def _load_layers(path: Path) -> list[_Layer]:
    """The chain of `#@ extends:` from the bottom profile up to `path`."""
    layers: list[_Layer] = []
    current: Path | None = path
    while current is not None:
        if len(layers) == _MAX_LAYERS or any(layer.path == current for layer in layers):
            raise ProfileError(f"profile {path}: `extends` goes round in a circle or too deep")
        try:
            text = current.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ProfileError(f"profile {current} cannot be read: {error}") from error
        metadata, action_lines = _validate(current, text)
        layers.append(_Layer(current, text, metadata, action_lines))
        parent = metadata.get("extends")
        current = resolve_profile_path(parent, current.parent) if parent else None
    return layers[::-1]


_FILTER_WORDS = frozenset(
    {
        "LABEL",
        "CONTAINS",
        "NOTCONTAINS",
        "EQUALS",
        "NOTEQUALS",
        "MISSING",
        "PRESENT",
        "EMPTY",
        "COORDINATES",
        "CTPCOORDINATES",
    }
)


def _validate(path: Path, text: str) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Metadata and the action lines with their numbers; every other line must be known:
    `%header` holds actions, `%filter NAME` holds pixel-mask rules in deid's LABEL syntax."""
    metadata: dict[str, str] = {}
    action_lines: list[tuple[int, str]] = []
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        found = _METADATA_PATTERN.match(line)
        if found:
            metadata[found.group(1)] = found.group(2)
        if not line or line.startswith("#") or line.upper().startswith("FORMAT"):
            continue
        if line.startswith("%"):
            section = line.split()[0].lower()
            if section not in ("%header", "%filter"):
                raise ProfileError(f"{path}:{number}: only %header and %filter are supported")
            continue
        word = line.lstrip("+|").split()[0].upper()
        if section == "%filter" and word in _FILTER_WORDS:
            continue
        if word not in SUPPORTED_ACTIONS or section != "%header":
            raise ProfileError(
                f"{path}:{number}: {word!r} is not a supported action "
                f"(supported: {', '.join(SUPPORTED_ACTIONS)}, inside %header)"
            )
        action_lines.append((number, line))
    return metadata, action_lines


def parse_with_deid(path: Path | str) -> Any:
    """deid's parse of a recipe (a DeidRecipe; "dicom" is deid's own), with its console logger
    silenced, and restored after, and its exits caught."""
    from deid.config import DeidRecipe
    from deid.logger import bot

    saved_level = bot.level
    bot.level = -10  # below every level deid emits: the errors below carry the message
    try:
        return DeidRecipe(str(path))
    except SystemExit as error:
        raise ProfileError(f"profile {path} could not be parsed by deid") from error
    finally:
        bot.level = saved_level


class _Compiler:
    """Turns the parsed lines of each layer into the profile's tables, in order."""

    def __init__(self) -> None:
        self.exact: dict[int, Rule] = {}
        self.masks: list[_MaskRule] = []
        self.private: Rule | None = None
        self.private_by_creator: dict[tuple[int, str, int], Rule] = {}
        self.additions: list[Addition] = []
        self.mask_sources: list[Path] = []
        self._order = 0

    def add(self, layer: _Layer) -> None:
        recipe = parse_with_deid(layer.path)
        entries = list(recipe.get_actions())
        if recipe.get_filters():
            self.mask_sources.append(layer.path)
        if len(entries) != len(layer.action_lines):
            raise ProfileError(
                f"profile {layer.path}: deid's parser read {len(entries)} actions "
                f"where the file has {len(layer.action_lines)} action lines"
            )
        for entry, (number, line) in zip(entries, layer.action_lines, strict=True):
            self._add_line(f"{layer.path}:{number}", entry, line)

    def _add_line(self, where: str, entry: dict[str, str], line: str) -> None:
        target = str(entry["field"])
        word = entry["action"].upper()
        value = _unquote((entry.get("value") or "").strip())
        if word == "ADD":
            self.additions.append(_compile_addition(where, target, value))
            return
        self._order += 1
        rule = _compile_rule(where, word, value, self._order, JUSTIFICATION in line.lower())
        private = _PRIVATE_PATTERN.match(target)
        if target.lower() == PRIVATE_FIELD:
            self.private = rule
        elif private:
            group, creator, element = private.groups()
            if int(group, 16) % 2 == 0:
                raise ProfileError(f"{where}: {target} names an even (public) group")
            key = (int(group, 16), creator.strip().lower(), int(element, 16))
            self.private_by_creator[key] = rule
        elif "x" in target.lower():
            mask, match = _compile_mask(where, target)
            self.masks.append(_MaskRule(mask, match, target, rule))
        else:
            self.exact[_compile_tag(where, target)] = rule


def _compile_addition(where: str, target: str, value: str) -> Addition:
    tag = _compile_tag(where, target)
    if value.startswith("func:") and value not in ADD_FUNCTIONS:
        raise ProfileError(f"{where}: unknown function {value} (known: {', '.join(ADD_FUNCTIONS)})")
    try:
        dictionary_VR(tag)
    except KeyError as error:
        raise ProfileError(
            f"{where}: ADD needs an attribute pydicom knows, not {target}"
        ) from error
    return Addition(tag, value, where)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _compile_rule(where: str, word: str, value: str, order: int, justified: bool) -> Rule:
    if word == "REPLACE":
        if not value:
            raise ProfileError(f"{where}: REPLACE needs a value or a func:")
        if value.startswith("func:"):
            if value not in _REPLACE_FUNCTIONS:
                known = ", ".join(_REPLACE_FUNCTIONS)
                raise ProfileError(f"{where}: unknown function {value} (known: {known})")
            return Rule(_REPLACE_FUNCTIONS[value], order, "", where, justified)
        return Rule(Action.REPLACE, order, value, where, justified)
    if value:
        raise ProfileError(f"{where}: {word} takes no value, found {value!r}")
    return Rule(Action(word), order, "", where, justified)


def _compile_tag(where: str, target: str) -> int:
    found = _TAG_PATTERN.match(target)
    if found and "x" not in target.lower():
        return int(found.group(1) + found.group(2), 16)
    tag = tag_for_keyword(target)
    if tag is None:
        raise ProfileError(f"{where}: {target!r} is neither a (gggg,eeee) tag nor a DICOM keyword")
    return int(tag)


def _compile_mask(where: str, target: str) -> tuple[int, int]:
    """`(60xx,xxxx)` -> (mask, match): each x is a hex digit that may take any value."""
    if not _TAG_PATTERN.match(target):
        raise ProfileError(f"{where}: {target!r} is not a (gggg,eeee) tag mask")
    digits = target.strip("()").replace(",", "").lower()
    mask = int("".join("0" if digit == "x" else "F" for digit in digits), 16)
    match = int(digits.replace("x", "0"), 16)
    return mask, match


def _sop_classes(layers: list[_Layer]) -> frozenset[str]:
    """The SOP classes a profile sends: its last `#@ sop_classes:` line, else the image
    storage classes a chest imaging collection needs."""
    declared = next(
        (
            layer.metadata["sop_classes"]
            for layer in reversed(layers)
            if "sop_classes" in layer.metadata
        ),
        None,
    )
    if declared is None:
        return DEFAULT_SOP_CLASSES
    return frozenset(uid.strip() for uid in declared.split(",") if uid.strip())


def _parse_options(path: Path, text: str) -> tuple[str, ...]:
    names = tuple(sorted({name.strip() for name in text.split(",") if name.strip()}))
    for name in names:
        if name not in OPTIONS:
            raise ProfileError(
                f"profile {path}: unknown option {name!r} (known: {', '.join(OPTIONS)})"
            )
        if not OPTIONS[name].supported:
            raise ProfileError(
                f"profile {path}: option {name!r} cannot be claimed: this tool does not do "
                "that cleaning, so it must not say it did"
            )
    if {"retain-long-full-dates", "retain-long-modified-dates"} <= set(names):
        raise ProfileError(
            f"profile {path}: the Full Dates and Modified Dates options exclude each other"
        )
    return names


def _check_claims(profile: Profile) -> None:
    """An option that cleans (C) is claimed only when every row it cleans is at least cleaned."""
    for name in profile.options:
        column = OPTIONS[name].column
        for row in load_table():
            if row.options.get(column) != "C" or "x" in row.tag or row.tag == PRIVATE_FIELD:
                continue
            rule = profile.rule_for(parse_tag(row.tag))
            if rule is None or PROTECTION[rule.action] < PROTECTION[Action.CLEAN]:
                where = rule.source if rule else "no line"
                raise ProfileError(
                    f"profile {profile.name} claims option {name!r} but keeps {row.tag} "
                    f"{row.name} unchanged ({where})"
                )


def field_keyword(target: str) -> str:
    """The keyword of a `(gggg,eeee)` field, or '' for masks, private fields and new tags."""
    found = _TAG_PATTERN.match(target)
    if not found or "x" in target.lower():
        return ""
    return str(keyword_for_tag(int(found.group(1) + found.group(2), 16)) or "")


@dataclass(frozen=True)
class Finding:
    """A line of a profile that protects less than the PS3.15 basic profile does."""

    field: str
    detail: str
    source: str
    justified: bool


def less_protective_than_basic(profile: Profile) -> list[Finding]:
    """Every attribute where `profile` protects less than ps315-basic, with whether the winning
    line carries a `justification:` comment."""
    basic = load_profile(BASIC_PROFILE)
    findings = []
    for target, basic_rule in basic.rules():
        theirs = profile.rule_for(_representative_tag(target, basic))
        if theirs is None or PROTECTION[theirs.action] < PROTECTION[basic_rule.action]:
            action = theirs.action if theirs else "kept (no line)"
            findings.append(
                Finding(
                    target,
                    f"{field_keyword(target) or 'masked/private'}: {basic_rule.action} in "
                    f"{BASIC_PROFILE}, {action} here",
                    theirs.source if theirs else "",
                    theirs.justified if theirs else False,
                )
            )
    for target, rule in profile.rules():
        if target.count('"') == 2 and rule.action is Action.KEEP:
            findings.append(Finding(target, "private attribute kept", rule.source, rule.justified))
    return findings


def _representative_tag(target: str, basic: Profile) -> int:
    """A tag a basic-profile field stands for: itself, a mask's first tag, or a private tag."""
    if target == PRIVATE_FIELD:
        return 0x00091010
    mask = next((m for m in basic.masks if m.pattern == target), None)
    if mask is not None:
        return mask.match
    return _compile_tag(target, target)
