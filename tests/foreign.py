"""DICOM files nobody on the team wrote: pydicom's test files, pydicom-data's and deid-data's.

`foreign_files()` lists them, `copy_set()` copies them under neutral names, `run_set()` runs
`submit` on a folder of them and reads each file's outcome back from the audit log, and
`residual_holds()` picks out the "residual identifier" findings of the quarantined ones.

Nothing here touches the network. `pydicom.data.get_testdata_files()` is not called: besides
the files shipped inside pydicom and those of the pydicom-data package it also lists (and so
downloads) every file named in pydicom's `urls.json` that neither has. The same two local
folders are read directly instead.

Run as a script (`.venv/bin/python -m tests.foreign`) it prints, per set and profile, what
happened to the files, and for every residual-identifier hold the original attribute that
holds the value and where the value was found in the cleaned copy, to judge whether it is a
real identifier or a false alarm.
"""

from __future__ import annotations

import bisect
import builtins
import importlib.resources
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pydicom
import pydicom.data
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from bsti_submit.config import Settings
from bsti_submit.run import submit

PROFILES = ("bsti-covid19", "ps315-basic")
SETS = ("pydicom", "pydicom-data", "deid-data")
# What discovery would pass over too: documentation, dumps, JSON models, archives, code, ICC
# profiles. Everything else in the data folders is offered to the tool, even files whose
# DICOM-ness is odd (no preamble, no file meta): discovery's verdict on them is part of the run.
NOT_DICOM_SUFFIXES = frozenset(
    {".json", ".txt", ".md", ".py", ".pyc", ".gz", ".zip", ".dump", ".icc"}
)
RESIDUAL = "residual identifier"
BURNED_IN = "burned-in text"
MASK_SEPARATOR = " | "  # between the texts of the regions masked in one file, in a row
_RESIDUAL_FINDING = re.compile(rf"{RESIDUAL}: ([^;]+)")
_PATH = re.compile(r"/\S+")  # a path in a reason, as in "duplicate of /tmp/..."
_EXCEPTION_HEAD = re.compile(r"^([A-Za-z_][\w.]*): ")
_BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)


def set_folders() -> dict[str, Path]:
    """The data folder of each set: pydicom's own test files, then the two data packages."""
    return {
        "pydicom": Path(pydicom.data.data_manager.DATA_ROOT) / "test_files",
        "pydicom-data": _package_folder("data_store", "pydicom-data"),
        "deid-data": _package_folder("deid_data", "deid-data"),
    }


def _package_folder(package: str, distribution: str) -> Path:
    try:
        folder = importlib.resources.files(package) / "data"
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f"{distribution} is not installed (it is in the test extra): "
            f".venv/bin/pip install {distribution}"
        ) from error
    return Path(str(folder))


def foreign_files() -> dict[str, list[Path]]:
    """Every DICOM file of each set, sorted, each path once."""
    found: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    for name, folder in set_folders().items():
        files = []
        for path in sorted(folder.rglob("*")):
            real = path.resolve()
            if real in seen or not _is_dicom_candidate(path):
                continue
            seen.add(real)
            files.append(path)
        found[name] = files
    return found


def _is_dicom_candidate(path: Path) -> bool:
    if not path.is_file() or "__pycache__" in path.parts:
        return False
    return path.suffix.lower() not in NOT_DICOM_SUFFIXES and not path.name.startswith("README")


def original_name(path: Path) -> str:
    """`<set>/<path inside the set's folder>`: unique, and what the tables are keyed by."""
    for name, folder in set_folders().items():
        if path.is_relative_to(folder):
            return f"{name}/{path.relative_to(folder).as_posix()}"
    return path.name


def copy_set(files: Mapping[str, list[Path]] | list[Path], folder: Path) -> dict[Path, Path]:
    """Copy files into one flat folder as `<set>-<index>.dcm`, names that tell the tool
    nothing; {copy: original}."""
    groups = files if isinstance(files, Mapping) else {"foreign": files}
    folder.mkdir(parents=True, exist_ok=True)
    copies: dict[Path, Path] = {}
    for set_name, paths in groups.items():
        for index, source in enumerate(paths):
            target = folder / f"{set_name}-{index:04d}.dcm"
            shutil.copyfile(source, target)
            copies[target] = source
    return copies


def settings_for(out: Path, profile: str) -> Settings:
    """A run's settings with its key, lookup table, logs and state beside `out`, so runs
    share nothing (the already-processed memory above all)."""
    home = out.parent / f"{out.name}.home"
    return Settings.load(
        None,
        site="RX1",
        profile=profile,
        workers=1,
        key_file=home / "pseudonym.key",
        lookup_file=home / "lookup.sqlite",
        log_dir=home / "logs",
        state_dir=home / "state",
    )


def run_set(
    folder: Path, out: Path, profile: str, names: Mapping[Path, Path] | None = None
) -> list[dict[str, str]]:
    """Run `submit` on `folder` into `out`; one row {name, status, reason} per source file
    from the audit log (plus the quarantine id, and the copy's path). `names` ({copy:
    original}, from `copy_set`) names rows by their original file."""
    settings = settings_for(out, profile)
    summary = submit(folder, out, settings)
    quarantine = str(settings.state_dir / "quarantine")
    originals = {str(copy): source for copy, source in (names or {}).items()}
    rows = []
    masked: dict[str, list[str]] = {}
    assert summary.audit_log is not None
    for record in _records(summary.audit_log):
        if _is_detected_text(record):
            masked.setdefault(record["file"], []).append(record["old"])
        if record.get("type") != "file":
            continue
        source = originals.get(record["file"])
        rows.append(
            {
                "name": original_name(source) if source else Path(record["file"]).name,
                "status": record["status"],
                "reason": record.get("reason", ""),
                "copy": record["file"],
                "quarantine_id": record.get("quarantine_id", ""),
                "original": str(source) if source else record["file"],
                "quarantine": quarantine,
                "masked": MASK_SEPARATOR.join(masked.get(record["file"], [])),
                "sop": record.get("sop", ""),
            }
        )
    return rows


def _is_detected_text(record: dict[str, str]) -> bool:
    """A change record of one region of burned-in text masked (not a profile's mask rule)."""
    return (
        record.get("type") == "change"
        and record["action"] == "MASK"
        and record["keyword"] == "PixelData"
        and record["old"] != "profile mask rule"
    )


def _records(audit_log: Path) -> Iterator[dict[str, str]]:
    with audit_log.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def findings_of(reason: str) -> list[str]:
    """A hold's findings, whether or not the reason starts with a quarantine id."""
    return [part.strip() for part in reason.split("; ") if part.strip()]


def residual_findings(reason: str) -> list[str]:
    """What follows "residual identifier: " in each such finding of a reason (the kind, and
    where the format gives one, the attribute it was found in)."""
    return [found.strip() for found in _RESIDUAL_FINDING.findall(reason)]


def residual_holds(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    """{file name: its residual-identifier findings} for every quarantined file that has any."""
    holds = {}
    for row in rows:
        if row["status"] == "quarantined":
            found = residual_findings(row["reason"])
            if found:
                holds[row["name"]] = found
    return holds


def exception_named(reason: str) -> str | None:
    """The exception class a reason starts with (`TypeError: ...`): the mark of an internal
    bug reported as a file's fault; None for a clear message."""
    head = _EXCEPTION_HEAD.match(reason)
    if head is None:
        return None
    name = head.group(1)
    last = name.rsplit(".", 1)[-1]
    if name in _BUILTIN_EXCEPTIONS or last.endswith(("Error", "Exception", "error")):
        return name
    return None


def internal_failures(rows: list[dict[str, str]]) -> dict[str, str]:
    """{file name: reason} for each failed file whose reason is an exception's repr."""
    return {
        row["name"]: row["reason"]
        for row in rows
        if row["status"] == "failed" and exception_named(row["reason"])
    }


def counts(rows: list[dict[str, str]]) -> dict[str, int]:
    """The table's columns for a list of rows."""
    held = [row for row in rows if row["status"] == "quarantined"]
    residual = [row for row in held if residual_findings(row["reason"])]
    burned = [
        row
        for row in held
        if row not in residual
        and any(part.startswith(BURNED_IN) for part in findings_of(row["reason"]))
    ]
    failed = [row for row in rows if row["status"] == "failed"]
    return {
        "files": len(rows),
        "written": sum(row["status"] == "written" for row in rows),
        "text masked": sum(bool(row["masked"]) for row in rows),
        "held: residual": len(residual),
        "held: burned-in": len(burned),
        "held: other": len(held) - len(residual) - len(burned),
        "skipped": sum(row["status"] == "skipped" for row in rows),
        "failed": len(failed),
        "failed: exception": sum(bool(exception_named(row["reason"])) for row in failed),
    }


# --- evidence for judging a residual-identifier hold ----------------------------------------
# An independent re-creation of how the gate searches a cleaned copy (every text value at any
# depth and the file meta, binary values read as Latin-1, all joined, upper-cased, with runs
# of punctuation and spaces made one space), used only to show a person where a value is.

_SEPARATORS = re.compile(r"[\W_]+")
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_DICOM_UID_ROOT = "1.2.840.10008."
_COLLAPSED_MIN = 6
_TAG_KIND = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")
_DATE_FORMATS = (
    "%Y%m%d",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%d/%m/%y",
    "%d %b %Y",
    "%d %B %Y",
)


@dataclass(frozen=True)
class Evidence:
    """Where a flagged value came from in the original and where it is in the cleaned copy."""

    candidate: str
    sources: list[str]  # "Keyword (gggg,eeee) VR = 'value'" in the original
    found_in: list[str]  # the same, for the cleaned element(s) the match spans


def _normalise(text: str) -> str:
    return _SEPARATORS.sub(" ", text.upper()).strip()


def _describe(element: DataElement) -> str:
    keyword = element.keyword or f"private {element.name!r}"
    shown = repr(_text_of(element))
    if len(shown) > 90:
        shown = shown[:87] + "..."
    return f"{keyword} {element.tag} {element.VR} = {shown}"


def _text_of(element: DataElement) -> str:
    value = element.value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(item) for item in value)
    return str(value)


def _leaves(dataset: Dataset) -> Iterator[DataElement]:
    for element in dataset.iterall():
        if element.VR != "SQ" and element.tag not in _PIXEL_TAGS:
            yield element


class _Haystack:
    """The cleaned copy's values joined as the gate joins them, remembering which element
    each stretch of the joined text came from."""

    def __init__(self, dataset: Dataset) -> None:
        self.elements: list[DataElement] = []
        self.words = " "
        self.starts: list[int] = []
        self.raw = ""
        self.raw_starts: list[int] = []
        for part in (dataset.file_meta, dataset):
            for element in _leaves(part):
                if element.VR in _BINARY_VRS or isinstance(element.value, str | MultiValue):
                    self._add(element)

    def _add(self, element: DataElement) -> None:
        text = _text_of(element)
        self.elements.append(element)
        self.starts.append(len(self.words))
        self.words += _normalise(text) + " "
        self.raw_starts.append(len(self.raw))
        self.raw += text + "\n"

    def _spanned(self, starts: list[int], begin: int, end: int) -> list[str]:
        first = bisect.bisect_right(starts, begin) - 1
        last = bisect.bisect_right(starts, max(begin, end - 1)) - 1
        return [_describe(element) for element in self.elements[max(first, 0) : last + 1]]

    def find(self, value: str) -> list[str]:
        """The cleaned elements where `value` shows up as the gate would see it."""
        words = _normalise(value)
        if not words:
            return []
        hits: list[str] = []
        for found in re.finditer(re.escape(f" {words} "), self.words):
            hits += self._spanned(self.starts, found.start() + 1, found.end() - 1)
        collapsed = words.replace(" ", "")
        if not hits and len(collapsed) >= _COLLAPSED_MIN and any(map(str.isdigit, collapsed)):
            spread = " ?".join(re.escape(character) for character in collapsed)
            for found in re.finditer(f"(?<= ){spread}(?= )", self.words):
                spanned = self._spanned(self.starts, found.start(), found.end())
                hits += [f"{hit}  [digits joined across separators]" for hit in spanned]
        return list(dict.fromkeys(hits))

    def find_uid(self, uid: str) -> list[str]:
        hits = []
        for found in re.finditer(rf"(?<![\d.]){re.escape(uid)}(?![\d.])", self.raw):
            hits += self._spanned(self.raw_starts, found.start(), found.end())
        return list(dict.fromkeys(hits))


def _date_spellings(value: str) -> list[str]:
    text = value.strip()[:8]
    if len(text) != 8 or not text.isdigit():
        return []
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return []
    spellings = {day.strftime(pattern) for pattern in _DATE_FORMATS}
    spellings.add(f"{day.day}/{day.month}/{day.year}")
    return sorted(spellings)


def _values(element: DataElement) -> list[str]:
    return [part.strip() for part in _text_of(element).split("\\") if part.strip()]


def _candidates(kind: str, original: Dataset) -> list[tuple[str, DataElement]]:
    """The values of the original attribute(s) a finding names, split as the tool splits
    them: name components, comma-separated parts, date spellings, UIDs."""
    kind = kind.split(" at ", 1)[0]  # a later format may add where it was found
    date_kind = re.fullmatch(r"date \((.+)\)", kind)
    named = date_kind.group(1) if date_kind else kind
    tag = _TAG_KIND.fullmatch(named)
    found: list[tuple[str, DataElement]] = []
    for element in _leaves(original):
        if kind == "original instance UID":
            if element.VR == "UI":
                found += [
                    (uid, element)
                    for uid in _values(element)
                    if not uid.startswith(_DICOM_UID_ROOT)
                ]
            continue
        if tag is not None:
            wanted = element.tag == int(tag.group(1) + tag.group(2), 16)
        else:
            wanted = element.keyword == named
        if not wanted:
            continue
        for value in _values(element):
            if date_kind:
                found += [(spelling, element) for spelling in _date_spellings(value)]
            elif element.VR == "PN":
                for group in value.split("="):
                    parts = [part.strip() for part in group.split("^")[:3]]
                    found += [(part, element) for part in parts if len(part) >= 2]
            else:
                pieces = {value, *(part.strip() for part in value.split(","))}
                found += [(piece, element) for piece in sorted(pieces) if len(piece) >= 2]
    return found


def evidence(original: Path, cleaned: Path, kind: str) -> list[Evidence]:
    """For one finding: each value of the named original attribute that shows up in the
    cleaned copy, with the original element(s) holding it and the cleaned element(s) where it
    was found."""
    haystack = _Haystack(pydicom.dcmread(cleaned, force=True))
    grouped: dict[str, list[str]] = {}
    for candidate, element in _candidates(kind, pydicom.dcmread(original, force=True)):
        sources = grouped.setdefault(candidate, [])
        if _describe(element) not in sources:
            sources.append(_describe(element))
    results = []
    for candidate, sources in grouped.items():
        if kind == "original instance UID":
            hits = haystack.find_uid(candidate)
        else:
            hits = haystack.find(candidate)
        if hits:
            results.append(Evidence(candidate, sources, hits))
    return results


def explain(row: dict[str, str], kind: str) -> list[str]:
    """Lines showing, for one residual-identifier finding of a held row, the original
    attribute that holds the value and where the cleaned copy has it."""
    cleaned = Path(row["quarantine"]) / f"{row['quarantine_id']}.dcm"
    found = evidence(Path(row["original"]), cleaned, kind)
    if not found:
        return ["  (the value was not located by this script)"]
    lines = []
    for item in found:
        lines.append(f"  value {item.candidate!r}")
        lines += [f"    original: {source}" for source in item.sources]
        lines += [f"    cleaned:  {hit}" for hit in item.found_in]
    return lines


def print_report(results: dict[tuple[str, str], list[dict[str, str]]]) -> None:
    """The counts table, the failed and skipped reasons, the internal failures, the text
    masked in each file and each burned-in hold, and every residual-identifier hold with its
    evidence."""
    columns = list(counts([]))
    print(f"{'set':<14}{'profile':<14}" + "".join(f"{name:>18}" for name in columns))
    for (set_name, profile), rows in results.items():
        line = "".join(f"{value:>18}" for value in counts(rows).values())
        print(f"{set_name:<14}{profile:<14}{line}")
    for (set_name, profile), rows in results.items():
        print(f"\n== {set_name} / {profile}")
        reasons: dict[str, int] = {}
        for row in rows:
            if row["status"] in ("failed", "skipped"):
                reason = f"{row['status']}: {_PATH.sub('<path>', row['reason'])}"
                reasons[reason] = reasons.get(reason, 0) + 1
        for reason, number in sorted(reasons.items()):
            print(f"  {number:>3} x {reason}")
        for name, reason in internal_failures(rows).items():
            print(f"  FAILED WITH AN EXCEPTION'S NAME  {name}: {reason}")
        for row in rows:
            if row["masked"]:
                print(f"  TEXT MASKED {row['name']} ({row['status']}): {row['masked']}")
            if row["status"] == "quarantined" and BURNED_IN in row["reason"]:
                print(f"  BURNED-IN HOLD {row['name']}: {row['reason']}")
        for row in rows:
            for kind in residual_findings(row["reason"]) if row["status"] == "quarantined" else []:
                print(f"  RESIDUAL HOLD {row['name']}: {RESIDUAL}: {kind}")
                for line in explain(row, kind):
                    print(f"    {line}")


def main() -> None:
    """Every set under every profile, in a temporary folder with its own XDG folders."""
    with tempfile.TemporaryDirectory(prefix="bsti-foreign-") as scratch:
        base = Path(scratch)
        for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[variable] = str(base / variable.lower())
        results: dict[tuple[str, str], list[dict[str, str]]] = {}
        for set_name, files in foreign_files().items():
            folder = base / set_name / "in"
            copies = copy_set({set_name: files}, folder)
            for profile in PROFILES:
                out = base / set_name / f"out-{profile}"
                results[set_name, profile] = run_set(folder, out, profile, copies)
        print_report(results)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
