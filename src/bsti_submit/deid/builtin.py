"""The built-in profiles, as specifications from which `profiles/*.deid` are generated.

Every choice here is one an IG officer signs off: each is written into the profile as a comment.
"""

from __future__ import annotations

import re

from .standard import TABLE_EDITION, ProfileSpec, load_table

PS315_BASIC = ProfileSpec(
    name="ps315-basic",
    version=f"{TABLE_EDITION}.3",
    introduction=(
        "# DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile, no option.",
    ),
)

_COVID_OPTIONS = (
    "clean-descriptors",
    "retain-long-modified-dates",
    "retain-patient-characteristics",
)
# Free text where identifiers hide, whose teaching value does not justify keeping it even when
# cleaned: comments, histories, notes, reasons written by the requester, reports. Descriptions of
# the study, series, protocol and procedure, and coded values, are kept cleaned.
_RISKY_FREE_TEXT = re.compile(
    r"Comment|History|Notes|Narrative|Reason for|Alerts|Allergies|Occupation|Interpretation"
    r"|Impressions|Maker Note|Label Text|Service Episode Description"
)


def _covid_overrides() -> tuple[tuple[str, str, str], ...]:
    """bsti-covid19's own choices over the table with its options."""
    rows = load_table()
    risky_text = [
        row
        for row in rows
        if row.options.get("clean_desc") == "C"
        and _RISKY_FREE_TEXT.search(row.name)
        and "Sequence" not in row.name
    ]
    pseudonym = "REPLACE (0010,{}) func:patient_pseudonym"
    why = "justification: the patient's keyed pseudonym, <site>-<code>"
    return (
        ("(0010,0010)", pseudonym.format("0010"), why),
        ("(0010,0020)", pseudonym.format("0020"), why),
        ("(0008,1010)", "X", "removed: station names often carry the hospital's name"),
        *(
            (
                row.tag,
                row.basic,
                "as the basic profile, not cleaned: free text is where identifiers hide",
            )
            for row in risky_text
        ),
    )


BSTI_COVID19 = ProfileSpec(
    name="bsti-covid19",
    version=f"{TABLE_EDITION}.4",
    options=_COVID_OPTIONS,
    overrides=_covid_overrides(),
    introduction=(
        "# The BSTI COVID-19 imaging collection: what each hospital uploads for teaching and",
        "# research. The PS3.15 Basic Profile, with these options and choices:",
        "#  - Retain Patient Characteristics: age, sex, size and weight matter clinically.",
        "#    PatientAge is computed from the birth date and study date when the file lacks it,",
        "#    before the birth date goes (the birth date itself is always emptied).",
        "#  - Retain Longitudinal Temporal Information with Modified Dates: every date moves by",
        "#    the same per-patient number of days (1 to 730 days back, from the trust's key), so",
        "#    intervals between a patient's scans are exact; times of day are kept;",
        "#    LongitudinalTemporalInformationModified says MODIFIED.",
        "#  - No Retain Device Identity: manufacturer, model and software versions are not in",
        "#    the table and stay; device UIDs, serial numbers, detector, plate, cassette and",
        "#    gantry IDs, station names and locations point at one trust and go.",
        "#  - Clean Descriptors: study, series, protocol and procedure descriptions and coded",
        "#    values are kept after removing every identifier of the same file (names in any",
        "#    spelling, IDs, dates, addresses, the institution by its words and initials) and",
        "#    anything shaped like an NHS or CHI number, a UK telephone number or postcode, an",
        "#    e-mail address or a URL. Comments, histories, notes, reasons written by the",
        "#    requester and reports are removed instead: free text is where identifiers hide.",
        "#  - Every text value left after these rules, at any depth, is cleaned the same way.",
        "#  - Patient ID and name become the patient's pseudonym <site>-<code>: a keyed hash of",
        "#    the issuer and the ID, the same in every submission, that only the trust can map",
        "#    back (bsti-submit lookup). Nothing of the lookup table is ever sent.",
        "#  - The clinical trial attributes label the collection, the site and the subject.",
    ),
    additions=(
        "ADD     (0010,1010)   func:patient_age      # Patient's Age, when the file lacks it",
        "ADD     (0028,0303)   MODIFIED              # Longitudinal Temporal Information Modified",
        'ADD     (0012,0010)   "British Society of Thoracic Imaging"  # Clinical Trial Sponsor',
        "ADD     (0012,0020)   BSTI-COVID-19         # Clinical Trial Protocol ID",
        'ADD     (0012,0021)   "BSTI COVID-19 Imaging Database"  # Clinical Trial Protocol Name',
        "ADD     (0012,0030)   func:site_code        # Clinical Trial Site ID: the trust's code",
        'ADD     (0012,0031)   ""                    # Clinical Trial Site Name: Type 2, empty',
        "ADD     (0012,0040)   func:patient_pseudonym  # Clinical Trial Subject ID",
    ),
)

BUILTIN_PROFILES = (PS315_BASIC, BSTI_COVID19)
