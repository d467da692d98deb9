"""Which instances ``--pixels auto`` searches first, and what the samples decide (pure)."""

from __future__ import annotations

import pickle

import pytest
from pydicom.dataset import Dataset

from dicom_deid.pixels.sampling import (
    ImageFacts,
    SeriesVerdicts,
    choose_samples,
    decide_series,
    image_facts,
    look_of,
    series_key,
)

CT = "1.2.840.10008.5.1.4.1.1.2"


def header(number: int | None, *, series: str = "1.2.3", rows: int = 512, image_type: tuple[str, ...] = (
        "ORIGINAL", "PRIMARY", "AXIAL"), window: tuple[float, float] = (40.0, 400.0),
           burned_in: str | None = None) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPClassUID = "1.2", series, CT
    if number is not None:
        ds.InstanceNumber = number
    ds.Rows, ds.Columns, ds.PhotometricInterpretation, ds.BitsStored = rows, 512, "MONOCHROME2", 12
    ds.ImageType = list(image_type)
    ds.WindowCenter, ds.WindowWidth = window
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    return ds


def facts(headers: list[Dataset]) -> list[ImageFacts]:
    out = [image_facts(ds, ordinal) for ordinal, ds in enumerate(headers)]
    assert all(f is not None for f in out)
    return [f for f in out if f is not None]


def test_first_middle_last_by_instance_number_not_by_file_order() -> None:
    numbers = [7, 3, 9, 1, 5, 2, 8, 4, 6]  # files in walk order; instance numbers shuffled
    chosen = choose_samples(facts([header(n) for n in numbers]))
    by_number = {numbers[o]: o for o in chosen}
    assert sorted(by_number) == [1, 5, 9]  # first, middle (index 4 of 9) and last instance
    assert len(chosen) == 3


def test_every_distinct_look_is_sampled_once() -> None:
    headers = [header(n) for n in range(1, 21)]
    headers[11] = header(12, rows=1024)  # a different geometry in the series
    headers[13] = header(14, image_type=("DERIVED", "SECONDARY", "SCREEN SAVE"))  # a screen capture
    headers[15] = header(16, image_type=("DERIVED", "SECONDARY", "SCREEN SAVE"), window=(500, 3000))
    chosen = choose_samples(facts(headers))
    assert {0, 10, 19} <= chosen  # first, middle, last
    assert {11, 13, 15} <= chosen  # one per distinct look; the derived image's window counts
    assert len(chosen) == 6


def test_original_images_auto_windows_do_not_multiply_samples() -> None:
    headers = [header(n, window=(40.0 + 13 * n, 400.0 + 97 * n)) for n in range(1, 41)]
    assert len(choose_samples(facts(headers))) == 3
    assert look_of(headers[0]) == look_of(headers[-1])
    derived = [header(1, image_type=("DERIVED", "SECONDARY"), window=(40, 400)),
               header(2, image_type=("DERIVED", "SECONDARY"), window=(40, 4000))]
    assert look_of(derived[0]) != look_of(derived[1])


def test_burned_in_annotation_no_is_never_a_pass() -> None:
    plain = facts([header(n) for n in range(1, 10)])
    flagged = facts([header(n, burned_in="NO") for n in range(1, 10)])
    assert choose_samples(plain) == choose_samples(flagged)
    assert [f.look for f in plain] == [f.look for f in flagged]


def test_series_are_sampled_separately_and_small_series_fully() -> None:
    headers = [header(n, series="1.2.3") for n in range(1, 11)] + [header(1, series="1.2.4"),
                                                                   header(2, series="1.2.4")]
    chosen = choose_samples(facts(headers))
    assert {10, 11} <= chosen and len(chosen) == 5


def test_no_series_or_no_image_is_not_surveyed() -> None:
    ds = header(1)
    del ds.SeriesInstanceUID
    assert series_key(ds) is None and image_facts(ds, 0) is None
    report = Dataset()
    report.StudyInstanceUID, report.SeriesInstanceUID = "1.2", "1.2.3"
    assert image_facts(report, 1) is None  # an SR: no image to survey


@pytest.mark.parametrize(
    ("found", "clear"),
    [({0: False, 5: False, 9: False}, True),
     ({0: False, 5: True, 9: False}, False),  # text in one sample: the whole series is searched
     ({0: False, 5: None, 9: False}, False),  # a sample not searched (quarantined): searched
     ({0: False, 9: False}, False)],  # a sample without a verdict: searched
    ids=["all-clear", "text-in-middle", "sample-quarantined", "sample-missing"],
)
def test_series_is_clear_only_when_every_sample_was_searched_clear(found: dict[int, bool | None],
                                                                   clear: bool) -> None:
    headers = [header(n) for n in range(1, 11)]
    surveyed = facts(headers)
    samples = choose_samples(surveyed)
    assert samples == {0, 5, 9}
    verdicts = decide_series(surveyed, samples, found)
    assert verdicts.found_clear(header(4)) is clear
    assert verdicts.found_clear(header(4, rows=1024)) is False  # a look no sample had


def test_verdicts_pickle_and_compare_by_value() -> None:
    verdicts = SeriesVerdicts({"1.2|1.2.3": frozenset({look_of(header(1))})})
    clone = pickle.loads(pickle.dumps(verdicts))
    assert clone == verdicts and hash(clone) == hash(verdicts)
    assert clone.found_clear(header(3)) and not SeriesVerdicts().found_clear(header(3))
