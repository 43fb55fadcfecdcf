"""The adversarial corpus through `submit`, with both built-in profiles: no planted identifier in
any delivered byte, and every image that correct cleaning makes deliverable delivered."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pydicom
import pytest

from .corpus import (
    PROFILES,
    CorpusFile,
    build_corpus,
    corpus_digest,
    failures,
    file_bytes,
    leaked,
    run_corpus,
    write_corpus,
)

pytestmark = pytest.mark.integration  # the whole leak corpus through the line, both profiles

# Leaks the tool does not catch yet, each judged by a person: kept in the corpus so that they
# stay visible, and checked to leak still, so that the list is mended when one is fixed.
KNOWN_LEAKS = {
    "leak-name-japanese-romanised-from-kana": (
        "the header holds the name in kanji and kana only; romanising kana is not done"
    ),
    "leak-institution-initials-glued-in-server-name": (
        "the initials run into other letters (qdhfs01): nothing tells where they end"
    ),
}
MIN_LEAKS = 60
MIN_CLEAN = 40
MAX_FILES = 320


@pytest.fixture(scope="module")
def corpus() -> list[CorpusFile]:
    return build_corpus()


@pytest.mark.parametrize("profile", PROFILES)
def test_no_identifier_leaves_and_every_clean_image_arrives(
    profile: str, corpus: list[CorpusFile], tmp_path: Path
) -> None:
    run = run_corpus(corpus, tmp_path, profile)
    broken = unexpected(failures(run))
    assert not broken, f"{len(broken)} failure(s) with {profile}:\n" + "\n".join(broken)


def unexpected(lines: list[str]) -> list[str]:
    """The failures that are not known leaks; a known leak that no longer leaks is one too."""
    known = [line for line in lines if line.split(":")[0] in KNOWN_LEAKS and "LEAKED" in line]
    fixed = sorted(set(KNOWN_LEAKS) - {line.split(":")[0] for line in known})
    return [line for line in lines if line not in known] + [
        f"{name}: no longer leaks; take it off KNOWN_LEAKS" for name in fixed
    ]


def test_corpus_is_deterministic() -> None:
    """Two builds give the same bytes, here and in a fresh interpreter with another hash seed."""
    first, second = build_corpus(), build_corpus()
    digest = corpus_digest(first)
    if corpus_digest(second) != digest:
        differing = [
            one.name
            for one, other in zip(first, second, strict=True)
            if corpus_digest([one]) != corpus_digest([other])
        ]
        pytest.fail(f"two builds differ: {differing}")
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    fresh = subprocess.run(
        [sys.executable, "-m", "tests.corpus", "--digest"],
        cwd=Path(__file__).resolve().parents[1],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == digest


def test_corpus_shape(corpus: list[CorpusFile]) -> None:
    kinds = Counter(item.kind for item in corpus)
    assert kinds["leak"] >= MIN_LEAKS
    assert kinds["clean"] >= MIN_CLEAN
    assert 18 <= kinds["export"] <= 30
    assert len(corpus) <= MAX_FILES
    assert len({item.name for item in corpus}) == len(corpus)
    assert len({str(item.dataset.SOPInstanceUID) for item in corpus}) == len(corpus)
    for item in corpus:
        assert item.dataset.PatientID, item.name
        assert item.dataset.BurnedInAnnotation == "NO", item.name
        assert "SECONDARY" not in item.dataset.ImageType, item.name
        assert item.kind != "clean" or item.must_deliver, item.name
        assert item.kind == "clean" or item.planted, item.name
        assert all(len(spelling) >= 3 for spelling in item.planted), item.name


def test_every_planted_identifier_is_in_the_input(corpus: list[CorpusFile]) -> None:
    """The oracle finds each planted spelling in the file as built: the corpus tests something,
    and the oracle reads every hiding place (depth, file meta, UN and OB values, utf-8)."""
    missing = {}
    for item in corpus:
        found = leaked(file_bytes(item), item.planted)
        if set(found) != set(item.planted):
            missing[item.name] = sorted(set(item.planted) - set(found))
    assert not missing


def test_the_oracle_is_not_fooled_by_folding_or_separators() -> None:
    text = "x\x00Zoë Müller\x00NHS 999-123 4567\x00MULLER_ZOE\x001.2.3\x00"
    data = text.encode("utf-8")
    assert leaked(data, ["ZOE MULLER", "MÜLLER", "9991234567", "MULLER ZOE"]) == [
        "ZOE MULLER",
        "MÜLLER",
        "9991234567",
        "MULLER ZOE",
    ]
    assert leaked(data, ["MULL", "ZOEM", "12345", "99912"]) == []
    assert leaked("O'NEILL".encode("utf-16-le"), ["O NEILL"]) == ["O NEILL"]


def test_the_corpus_files_are_readable_dicom(tmp_path: Path, corpus: list[CorpusFile]) -> None:
    for path, item in write_corpus(tmp_path, corpus).items():
        dataset = pydicom.dcmread(path)
        assert dataset.SOPInstanceUID == item.dataset.SOPInstanceUID
        assert len(dataset.PixelData) == dataset.Rows * dataset.Columns * 2


def test_the_gate_alone_lets_no_leak_out(
    corpus: list[CorpusFile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: with the engine's text cleaning broken (it returns every text as it
    was, and keeps every binary value), the gate, reading the written bytes, must hold every
    file that would leak. This is what makes it a second opinion and not the same code twice."""
    from bsti_submit.deid.engine import _Run

    monkeypatch.setattr(_Run, "_clean_text", lambda self, text, technical=False: text)
    monkeypatch.setattr(_Run, "_identifies", lambda self, value: False)
    run = run_corpus(corpus, tmp_path, "bsti-covid19")
    leaks = [line for line in unexpected(failures(run)) if "LEAKED" in line]
    assert not leaks, f"{len(leaks)} leak(s) past the gate alone:\n" + "\n".join(leaks)
    held = [o for o in run.outcomes if o.file.kind != "clean" and o.status == "quarantined"]
    assert len(held) >= MIN_LEAKS  # the cleaner really was off: the gate did the work
