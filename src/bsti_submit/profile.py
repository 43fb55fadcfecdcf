"""Load a de-identification profile (a deid recipe) and compile it once into a tag -> rule table.

Recipes are parsed with deid's own parser (`deid.config.DeidRecipe`), so a profile stays a file an
IG officer can read in deid's documented format. This module adds what deid leaves out: strict
validation with the file and line of each problem, `#@ key: value` metadata lines (which deid
reads as comments), and the compilation into a lookup table that the engine applies in one pass.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path

from pydicom.datadict import tag_for_keyword

from .errors import ProfileError

DEFAULT_PROFILE = "ps315-basic"
PROFILE_SUFFIX = ".deid"
SUPPORTED_ACTIONS = ("REMOVE", "BLANK", "REPLACE", "KEEP")
PRIVATE_FIELD = "(gggg,eeee)"
_TAG_PATTERN = re.compile(r"^\(([0-9A-Fa-fx]{4}),([0-9A-Fa-fx]{4})\)$")
_METADATA_PATTERN = re.compile(r"^#@\s*([a-z_]+)\s*:\s*(.*?)\s*$")


class Action(StrEnum):
    """What the engine does to an element; the names are the ones written to the audit log."""

    REMOVE = "REMOVE"
    BLANK = "BLANK"
    DUMMY = "DUMMY"
    UID = "UID"
    KEEP = "KEEP"
    REPLACE = "REPLACE"


_FUNCTIONS = {"func:dummy": Action.DUMMY, "func:uid": Action.UID}


@dataclass(frozen=True)
class Rule:
    """One compiled recipe line. `order` is its position: a later line wins over an earlier."""

    action: Action
    order: int
    value: str = ""


@dataclass(frozen=True)
class _MaskRule:
    mask: int
    match: int
    rule: Rule


@dataclass
class Profile:
    """A compiled profile: rules by exact tag, by tag mask, and for private elements."""

    name: str
    version: str
    sha256: str
    sources: tuple[str, ...]
    exact: dict[int, Rule]
    masks: list[_MaskRule]
    private: Rule | None
    method_codes: tuple[str, ...] = ("113100",)
    _cache: dict[int, Rule | None] = field(default_factory=dict, repr=False)

    def rule_for(self, tag: int) -> Rule | None:
        """The winning rule for a tag, or None when the profile says nothing (keep)."""
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

    @property
    def label(self) -> str:
        """Name and version, as written to DeidentificationMethod."""
        return f"{self.name} {self.version}"


def builtin_profiles_dir() -> Path:
    """Where the built-in profiles are: inside the installed package, or the source checkout's
    `profiles/` when running from an editable install (which has no copy in the package)."""
    packaged = Path(str(resources.files("bsti_submit"))) / "profiles"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "profiles"


def builtin_profile_names() -> list[str]:
    """The names accepted by `--profile NAME`."""
    return sorted(path.stem for path in builtin_profiles_dir().glob(f"*{PROFILE_SUFFIX}"))


def resolve_profile_path(name_or_file: str) -> Path:
    """A built-in profile's name or a recipe file's path, as a path that exists."""
    candidate = Path(name_or_file)
    if candidate.suffix == PROFILE_SUFFIX or candidate.exists():
        if not candidate.is_file():
            raise ProfileError(f"profile file {candidate} does not exist")
        return candidate
    builtin = builtin_profiles_dir() / f"{name_or_file}{PROFILE_SUFFIX}"
    if not builtin.is_file():
        known = ", ".join(builtin_profile_names())
        raise ProfileError(f"no built-in profile named {name_or_file!r} (built-in: {known})")
    return builtin


def load_profile(name_or_file: str = DEFAULT_PROFILE) -> Profile:
    """Find, validate, parse and compile a profile."""
    path = resolve_profile_path(name_or_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(f"profile {path} cannot be read: {error}") from error
    metadata, action_lines = _validate(path, text)
    actions = _parse_with_deid(path)
    if len(actions) != len(action_lines):
        raise ProfileError(
            f"profile {path}: deid's parser read {len(actions)} actions "
            f"where the file has {len(action_lines)} action lines"
        )
    exact: dict[int, Rule] = {}
    masks: list[_MaskRule] = []
    private: Rule | None = None
    for order, (entry, line_number) in enumerate(zip(actions, action_lines, strict=True)):
        rule = _compile_rule(path, line_number, entry, order)
        target = str(entry["field"])
        if target.lower() == PRIVATE_FIELD:
            private = rule
        elif "x" in target.lower():
            mask, match = _compile_mask(path, line_number, target)
            masks.append(_MaskRule(mask, match, rule))
        else:
            exact[_compile_tag(path, line_number, target)] = rule
    return Profile(
        name=metadata.get("name", path.stem),
        version=metadata.get("version", "unversioned"),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        sources=(str(path),),
        exact=exact,
        masks=masks,
        private=private,
    )


def _validate(path: Path, text: str) -> tuple[dict[str, str], list[int]]:
    """Metadata and the line numbers of the action lines; every other line must be known."""
    metadata: dict[str, str] = {}
    action_lines: list[int] = []
    in_header = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        found = _METADATA_PATTERN.match(line)
        if found:
            metadata[found.group(1)] = found.group(2)
        if not line or line.startswith("#") or line.upper().startswith("FORMAT"):
            continue
        if line.startswith("%"):
            in_header = line.split()[0].lower() == "%header"
            if not in_header:
                raise ProfileError(f"{path}:{number}: only a %header section is supported")
            continue
        word = line.split()[0].upper()
        if word not in SUPPORTED_ACTIONS or not in_header:
            raise ProfileError(
                f"{path}:{number}: {word!r} is not a supported action "
                f"(supported: {', '.join(SUPPORTED_ACTIONS)}, inside %header)"
            )
        action_lines.append(number)
    return metadata, action_lines


def _parse_with_deid(path: Path) -> list[dict[str, str]]:
    """deid's parse of the recipe, with its console logger silenced and its exits caught."""
    from deid.config import DeidRecipe
    from deid.logger import bot

    saved_level = bot.level
    bot.level = -10  # below every level deid emits: the errors below carry the message
    try:
        return list(DeidRecipe(str(path)).get_actions())
    except SystemExit as error:
        raise ProfileError(f"profile {path} could not be parsed by deid") from error
    finally:
        bot.level = saved_level


def _compile_rule(path: Path, line: int, entry: dict[str, str], order: int) -> Rule:
    word = entry["action"].upper()
    value = (entry.get("value") or "").strip()
    if word == "REPLACE":
        if value.startswith("func:"):
            if value not in _FUNCTIONS:
                known = ", ".join(_FUNCTIONS)
                raise ProfileError(f"{path}:{line}: unknown function {value} (known: {known})")
            return Rule(_FUNCTIONS[value], order)
        return Rule(Action.REPLACE, order, value)
    if value:
        raise ProfileError(f"{path}:{line}: {word} takes no value, found {value!r}")
    return Rule(Action(word), order)


def _compile_tag(path: Path, line: int, target: str) -> int:
    found = _TAG_PATTERN.match(target)
    if found:
        return int(found.group(1) + found.group(2), 16)
    tag = tag_for_keyword(target)
    if tag is None:
        raise ProfileError(
            f"{path}:{line}: {target!r} is neither a (gggg,eeee) tag nor a DICOM keyword"
        )
    return int(tag)


def _compile_mask(path: Path, line: int, target: str) -> tuple[int, int]:
    """`(60xx,xxxx)` -> (mask, match): each x is a hex digit that may take any value."""
    if not _TAG_PATTERN.match(target):
        raise ProfileError(f"{path}:{line}: {target!r} is not a (gggg,eeee) tag mask")
    digits = target.strip("()").replace(",", "").lower()
    mask = int("".join("0" if digit == "x" else "F" for digit in digits), 16)
    match = int(digits.replace("x", "0"), 16)
    return mask, match
