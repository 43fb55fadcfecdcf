"""PS3.15 Annex E (DICOM 2026d) as package data, and the built-in profiles generated from it.

Table E.1-1 (the attributes and their actions) and Table E.3.10-1 (safe private attributes) are
read from CSV copies in `data/`. `render_profile` writes a profile for a chosen set of PS3.15
options; `profiles/*.deid` hold its output, and a test regenerates them and compares, so a
built-in profile can never drift from the standard's table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

from pydicom.dataset import Dataset

TABLE_EDITION = "2026d"

# When the IOD type of an attribute is not known, PS3.15 allows the right-most, most conservative
# choice of a compound code: it keeps every output valid for any IOD.
COMPOUND_POLICY = {"Z/D": "D", "X/Z": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U*"}
# Except for sequences that are optional (Type 3) in every image IOD's modules (PS3.3 General
# Study, General Series, General Equipment, Request Attributes): there, an empty sequence (Z) or
# one empty item (D) is invalid and X is the only choice that keeps the output valid.
OPTIONAL_SEQUENCES = frozenset({"(0008,0082)", "(0008,1072)", "(0008,1110)", "(0008,1111)"})

# How each resolved PS3.15 action is written as a deid recipe line (action word, value).
RECIPE_ACTIONS = {
    "X": ("REMOVE", ""),
    "Z": ("BLANK", ""),
    "D": ("REPLACE", "func:dummy"),
    "U": ("REPLACE", "func:uid"),
    # U* keeps the sequence; the instance UIDs inside it are mapped by their own U rows.
    "U*": ("KEEP", ""),
    "K": ("KEEP", ""),
    "C": ("REPLACE", "func:clean"),
    "C-dates": ("REPLACE", "func:shift_date"),
}
# Protection of each resolved code, to tell when an option relaxes the basic profile.
_RANK = {"X": 5, "Z": 4, "D": 3, "U": 3, "U*": 3, "C": 2, "C-dates": 2, "K": 1}

# Removed beyond the table's rows, each with the reason an IG officer reads in the profile.
EXTRA_REMOVALS = (
    ("(50xx,xxxx)", "every curve group whole, not only Curve Data"),
    ("(60xx,xxxx)", "every overlay group whole: overlays can carry burned-in text"),
    ("(0400,0500)", "Encrypted Attributes Sequence: may hold the original identifiers"),
    ("(4FFE,0001)", "MAC Parameters Sequence: belongs to signatures that no longer hold"),
    ("(xxxx,0000)", "group lengths: retired, and wrong once elements are removed"),
    ("(0000,xxxx)", "command elements: never part of a stored instance"),
)


@dataclass(frozen=True)
class Option:
    """A PS3.15 option: its column in Table E.1-1, its CID 7050 code, and whether this tool
    really does what it asks (an option it cannot do is never claimed)."""

    column: str
    code: str
    supported: bool = True


OPTIONS = {
    "retain-safe-private": Option("rtn_safe_priv", "113111"),
    "retain-uids": Option("rtn_uids", "113110"),
    "retain-device-identity": Option("rtn_dev_id", "113109"),
    "retain-institution-identity": Option("rtn_inst_id", "113112"),
    "retain-patient-characteristics": Option("rtn_pat_chars", "113108"),
    "retain-long-full-dates": Option("rtn_long_full_dates", "113106"),
    "retain-long-modified-dates": Option("rtn_long_modif_dates", "113107"),
    "clean-descriptors": Option("clean_desc", "113105"),
    # Cleaning free text inside SR content trees and graphic annotations is not done by this
    # tool, so these two can never be claimed.
    "clean-structured-content": Option("clean_struct_cont", "113104", supported=False),
    "clean-graphics": Option("clean_graph", "113103", supported=False),
}
MODIFIED_DATES = "retain-long-modified-dates"

# The image storage SOP classes sent when a profile names none (`#@ sop_classes:`): chest CT,
# radiographs, MR, PET, ultrasound and secondary captures (the last two then pass the burned-in
# text check only with a mask rule). Structured reports, presentation states, key objects,
# encapsulated documents and RT objects are left out.
DEFAULT_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image Storage
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
        "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image Storage
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET Image Storage
    }
)

# CID 7050 De-identification Method codes (scheme DCM), by code value.
DEIDENTIFICATION_METHODS = {
    "113100": "Basic Application Confidentiality Profile",
    "113101": "Clean Pixel Data Option",
    "113102": "Clean Recognizable Visual Features Option",
    "113103": "Clean Graphics Option",
    "113104": "Clean Structured Content Option",
    "113105": "Clean Descriptors Option",
    "113106": "Retain Longitudinal Temporal Information Full Dates Option",
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
    "113108": "Retain Patient Characteristics Option",
    "113109": "Retain Device Identity Option",
    "113110": "Retain UIDs Option",
    "113111": "Retain Safe Private Option",
    "113112": "Retain Institution Identity Option",
}


@dataclass(frozen=True)
class TableRow:
    """One row of Table E.1-1."""

    tag: str
    keyword: str
    name: str
    retired: bool
    basic: str
    options: dict[str, str]
    in_std_comp_iod: bool


@dataclass(frozen=True)
class SafePrivate:
    """One row of Table E.3.10-1: a private attribute that is safe to keep."""

    group: str
    creator: str
    element: str
    meaning: str


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("bsti_submit").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def load_table() -> list[TableRow]:
    """Table E.1-1 from the package's copy of the CSV, in table order."""
    fixed = {"tag", "keyword", "name", "retired", "basic", "in_std_comp_iod"}
    return [
        TableRow(
            tag=row["tag"],
            keyword=row["keyword"],
            name=row["name"],
            retired=row["retired"] == "Y",
            basic=row["basic"],
            options={key: value for key, value in row.items() if key not in fixed and value},
            in_std_comp_iod=row["in_std_comp_iod"] == "Y",
        )
        for row in _read_csv("confidentiality_profile.csv")
    ]


def load_safe_private() -> list[SafePrivate]:
    """Table E.3.10-1 from the package's copy of the CSV, in table order."""
    return [
        SafePrivate(row["tag"][1:5], row["private_creator"], row["tag"][8:10], row["meaning"])
        for row in _read_csv("safe_private_attributes.csv")
    ]


def resolve_compound(code: str, tag: str = "") -> str:
    """The single action taken for a (possibly compound) PS3.15 action code of a row."""
    if tag in OPTIONAL_SEQUENCES and "X" in code.split("/"):
        return "X"
    return COMPOUND_POLICY.get(code, code)


def row_action(row: TableRow, options: tuple[str, ...]) -> tuple[str, str | None]:
    """The PS3.15 action for a row under a set of options, and the option that chose it.
    Where two options disagree on a row, the more protective wins (C over K). A C of the
    Modified Dates option is `C-dates`: dates are shifted, not cleaned as text."""
    chosen = [
        (row.options[OPTIONS[name].column], name)
        for name in options
        if OPTIONS[name].column in row.options
    ]
    if not chosen:
        return row.basic, None
    code, option = max(chosen, key=lambda pair: pair[0] == "C")
    if code == "C" and option == MODIFIED_DATES:
        return "C-dates", option
    return code, option


def recipe_line(field: str, code: str, comment: str) -> str:
    """One aligned recipe line with the standard's code and a comment."""
    action, value = RECIPE_ACTIONS[resolve_compound(code, field)]
    shown = code.removesuffix("-dates")
    return f"{action:<8}{field:<14}{value:<24}# {shown:<7}{comment}".rstrip()


@dataclass(frozen=True)
class ProfileSpec:
    """A generated built-in profile: its options, its own choices over the table's (by tag: a
    PS3.15 code or a whole recipe line, and why), additions, and the text an IG officer reads
    at the top."""

    name: str
    version: str
    introduction: tuple[str, ...]
    options: tuple[str, ...] = ()
    overrides: tuple[tuple[str, str, str], ...] = ()
    additions: tuple[str, ...] = ()
    burned_in_text: str = "mask"


BURNED_IN_TEXT = (
    "# Burned-in text: every image is searched for text in its pixels (OCR; plain CT and MR",
    "# slices get a cheap screen first). With `burned_in_text: mask`, each region of text is",
    "# blanked, except one whose text is only a laterality or positioning marker or a scale",
    "# (L, R, AP, PA, LAT, ERECT, SUPINE, PORTABLE, 10 cm...), and never one that matches an",
    "# identifier; BurnedInAnnotation becomes NO and code 113101 is added. With `hold`, the",
    "# instance is quarantined with its regions listed. An image whose header says",
    "# BurnedInAnnotation YES, or a screen capture of a report, is held when no text is found;",
    "# pixels that cannot be decoded are held. Bits above HighBit (embedded overlays) are zeroed.",
)


HOW_TO_READ = (
    "# How to read a line:   ACTION  (group,element)  value  # PS3.15 code  attribute name",
    "#   REMOVE                  X   the attribute is removed (a sequence with all in it)",
    "#   BLANK                   Z   the value is emptied",
    "#   REPLACE func:dummy      D   a dummy value valid for the VR",
    "#   REPLACE func:uid        U   a keyed, repeatable UID 2.25.<integer>",
    "#   KEEP                    K   kept; a kept sequence's items are still cleaned",
    "#   REPLACE func:clean      C   kept after removing every identifier of the same file",
    "#                               and anything shaped like an NHS or CHI number",
    "#   REPLACE func:shift_date C   dates moved by the patient's keyed offset (times kept)",
    "#",
    "# Compound codes: the IOD type of an attribute is not tracked, so the right-most,",
    "# most conservative choice is taken: Z/D -> D, X/Z -> Z, X/D -> D, X/Z/D -> D, and",
    "# X/Z/U* -> U* (the sequence is kept and the instance UIDs inside it are replaced).",
    "# A dummy for a sequence is one empty item; a sequence emptied by Z has no items.",
    "# Both are invalid where a sequence is optional (Type 3), so the Institution Code,",
    "# Operator Identification, Referenced Study and Referenced Performed Procedure Step",
    "# Sequences, optional in every image IOD, are removed (X).",
    "# Attributes that are not listed are kept, and their sequences are cleaned too.",
    "# (gggg,eeee) is every private element: every element of an odd group, creators too.",
    "# Where a line is less protective than the basic profile, it says why after",
    "# 'justification:'.",
)


def render_profile(spec: ProfileSpec) -> str:
    """The text of a generated built-in profile."""
    lines = [
        "FORMAT dicom",
        "",
        f"#@ name: {spec.name}",
        f"#@ version: {spec.version}",
        f"#@ options: {', '.join(spec.options)}".rstrip(),
        f"#@ burned_in_text: {spec.burned_in_text}",
        "",
        *spec.introduction,
        "#",
        *BURNED_IN_TEXT,
        "#",
        f"# Generated from Table E.1-1 of DICOM {TABLE_EDITION} by scripts/generate_profiles.py.",
        "# Do not edit by hand: a test regenerates this file and compares.",
        "#",
        *HOW_TO_READ,
        "",
        "%header",
        "",
    ]
    overrides = {tag: (choice, why) for tag, choice, why in spec.overrides}
    lines += [_row_line(row, spec.options, overrides.get(row.tag)) for row in load_table()]
    lines += ["", "# Beyond Table E.1-1:"]
    lines += [recipe_line(field, "X", reason) for field, reason in EXTRA_REMOVALS]
    if "retain-safe-private" in spec.options:
        lines += ["", "# Table E.3.10-1, safe private attributes (justification: PS3.15 option)"]
        lines += [
            f'KEEP    ({entry.group},"{entry.creator}",{entry.element})'
            for entry in load_safe_private()
        ]
    if spec.additions:
        lines += ["", "# Set after cleaning, in every instance:", *spec.additions]
    return "\n".join(lines) + "\n"


def _row_line(row: TableRow, options: tuple[str, ...], override: tuple[str, str] | None) -> str:
    name = row.name + (" (retired)" if row.retired else "")
    if override is not None:
        choice, why = override
        if resolve_compound(choice) in RECIPE_ACTIONS:  # a PS3.15 code, not a whole line
            return recipe_line(row.tag, choice, f"{name}: {why}")
        return f"{choice:<46}# {row.basic:<7}{name}: {why}"
    code, option = row_action(row, options)
    if option is None:
        return recipe_line(row.tag, code, name)
    relaxed = _RANK[resolve_compound(code)] < _RANK[resolve_compound(row.basic)]
    note = f" justification: {option} option" if relaxed else f" ({option})"
    return recipe_line(row.tag, code, name + note)


def method_code_item(code: str) -> Dataset:
    """An item of De-identification Method Code Sequence: a CID 7050 code, scheme DCM."""
    item = Dataset()
    item.CodeValue = code
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = DEIDENTIFICATION_METHODS[code]
    return item
