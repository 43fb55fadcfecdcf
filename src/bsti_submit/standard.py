"""PS3.15 Table E.1-1 (DICOM 2026d) as package data, and the baseline profile built from it.

The recipe text written here is what `profiles/ps315-basic.deid` holds; a test regenerates it
and compares, so the built-in profile can never drift from the standard's table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

TABLE_EDITION = "2026d"
BASIC_PROFILE_NAME = "ps315-basic"
BASIC_PROFILE_VERSION = f"{TABLE_EDITION}.1"

# When the IOD type of an attribute is not known, PS3.15 allows the right-most, most conservative
# choice of a compound code: it keeps every output valid for any IOD.
COMPOUND_POLICY = {"Z/D": "D", "X/Z": "Z", "X/D": "D", "X/Z/D": "D", "X/Z/U*": "U*"}

# How each resolved PS3.15 action is written as a deid recipe line (action word, value).
RECIPE_ACTIONS = {
    "X": ("REMOVE", ""),
    "Z": ("BLANK", ""),
    "D": ("REPLACE", "func:dummy"),
    "U": ("REPLACE", "func:uid"),
    # U* keeps the sequence; the instance UIDs inside it are mapped by their own U rows.
    "U*": ("KEEP", ""),
    "K": ("KEEP", ""),
}

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
class TableRow:
    """One row of Table E.1-1."""

    tag: str
    keyword: str
    name: str
    retired: bool
    basic: str
    options: dict[str, str]
    in_std_comp_iod: bool


def load_table() -> list[TableRow]:
    """Read Table E.1-1 from the package's copy of the CSV, in table order."""
    text = (
        resources.files("bsti_submit")
        .joinpath("data/confidentiality_profile.csv")
        .read_text(encoding="utf-8")
    )
    reader = csv.DictReader(io.StringIO(text))
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
        for row in reader
    ]


def resolve_compound(code: str) -> str:
    """The single action taken for a (possibly compound) PS3.15 action code."""
    return COMPOUND_POLICY.get(code, code)


def recipe_line(field: str, code: str, comment: str) -> str:
    """One aligned recipe line with the standard's code and name as a trailing comment."""
    action, value = RECIPE_ACTIONS[resolve_compound(code)]
    return f"{action:<8}{field:<14}{value:<12}# {code:<7}{comment}".rstrip()


def render_basic_profile() -> str:
    """The text of `profiles/ps315-basic.deid`."""
    lines = [
        "FORMAT dicom",
        "",
        f"#@ name: {BASIC_PROFILE_NAME}",
        f"#@ version: {BASIC_PROFILE_VERSION}",
        "",
        "# DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile,",
        f"# generated from Table E.1-1 of the {TABLE_EDITION} edition",
        "# by scripts/generate_profiles.py.",
        "# Do not edit by hand: a test regenerates this file and compares.",
        "#",
        "# How to read a line:   ACTION  (group,element)  value  # PS3.15 code  attribute name",
        "#   REMOVE              X   the attribute is removed (a sequence with everything in it)",
        "#   BLANK               Z   the value is emptied",
        "#   REPLACE func:dummy  D   a dummy value valid for the VR",
        "#   REPLACE func:uid    U   a keyed, repeatable UID 2.25.<integer> (same input, same UID)",
        "#   KEEP                K   kept; a kept sequence's items are still cleaned",
        "#",
        "# Compound codes: the IOD type of an attribute is not tracked, so the right-most,",
        "# most conservative choice is taken: Z/D -> D, X/Z -> Z, X/D -> D, X/Z/D -> D, and",
        "# X/Z/U* -> U* (the sequence is kept and the instance UIDs inside it are replaced).",
        "# A dummy for a sequence is one empty item; a sequence emptied by Z has no items.",
        "# Attributes that are not listed are kept, and their sequences are cleaned too.",
        "# (gggg,eeee) is every private element: every element of an odd group, creators too.",
        "",
        "%header",
        "",
    ]
    for row in load_table():
        retired = " (retired)" if row.retired else ""
        lines.append(recipe_line(row.tag, row.basic, row.name + retired))
    lines += ["", "# Beyond Table E.1-1:"]
    lines += [recipe_line(field, "X", reason) for field, reason in EXTRA_REMOVALS]
    return "\n".join(lines) + "\n"


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
