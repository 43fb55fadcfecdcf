"""The built-in profiles, as specifications from which `profiles/*.deid` are generated.

Every choice here is one an IG officer signs off: each is written into the profile as a comment.
"""

from __future__ import annotations

from .standard import TABLE_EDITION, ProfileSpec, load_table

PS315_BASIC = ProfileSpec(
    name="ps315-basic",
    version=f"{TABLE_EDITION}.1",
    introduction=(
        "# DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile, no option.",
    ),
)

_COVID_OPTIONS = (
    "clean-descriptors",
    "retain-device-identity",
    "retain-long-modified-dates",
    "retain-patient-characteristics",
)


def _covid_overrides() -> tuple[tuple[str, str, str], ...]:
    """bsti-covid19's own choices over the table with its options."""
    rows = load_table()
    serials = [row.tag for row in rows if "Serial Number" in row.name]
    ae_titles = [row.tag for row in rows if row.options.get("rtn_dev_id") == "C"]
    pseudonym = "REPLACE (0010,{}) func:patient_pseudonym"
    why = "justification: the patient's keyed pseudonym, <site>-<code>"
    return (
        ("(0010,0010)", pseudonym.format("0010"), why),
        ("(0010,0020)", pseudonym.format("0020"), why),
        ("(0008,1010)", "X", "removed: station names often carry the hospital's name"),
        *(
            (tag, "X", "removed: a serial number identifies one machine at one trust")
            for tag in serials
        ),
        *((tag, "X", "removed: AE titles name the trust's own systems") for tag in ae_titles),
    )


BSTI_COVID19 = ProfileSpec(
    name="bsti-covid19",
    version=f"{TABLE_EDITION}.1",
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
        "#  - Retain Device Identity, without serial numbers, station names or AE titles:",
        "#    manufacturer and model help teaching; the rest points at one trust.",
        "#  - Clean Descriptors: study, series and protocol descriptions and the like are kept",
        "#    after removing every identifier of the same file (names, IDs, accession numbers,",
        "#    dates, institution, physicians) and any number shaped like an NHS or CHI number.",
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
        "ADD     (0012,0040)   func:patient_pseudonym  # Clinical Trial Subject ID",
    ),
)

BUILTIN_PROFILES = (PS315_BASIC, BSTI_COVID19)
