"""k-anonymity enforcement: planted populations where the least-loss generalisation is known.

Expected levels, emptied values and information loss are derived here from the planted values
and the definitions (loss = mean over patient x quasi-identifier cells of 0, level/(height+1) or 1;
every hierarchy here has height 2, the device model's 1).
"""

from __future__ import annotations

import json

import pydicom
import pytest

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.risk.catalogue import quasi_by_keyword
from dicom_deid.risk.enforce import plan_k_anonymity
from dicom_deid.risk.errors import RiskError
from dicom_deid.risk.metrics import class_sizes, records_frame
from tests.risk_population import Person, write_population


def _frame(rows, columns):
    return records_frame([{"patient": f"DD{i:02d}", **r} for i, r in enumerate(rows)], columns)


def _qi(*keywords):
    return [quasi_by_keyword(k) for k in keywords]


def test_ages_one_year_apart_become_five_year_bands():
    # ages 60..69, one patient each: exact ages are unique; 5-year bands give 60-64 and 65-69 (5 each)
    rows = [{"PatientSex": "F", "PatientAge": str(a)} for a in range(60, 70)]
    plan = plan_k_anonymity(_frame(rows, ["PatientSex", "PatientAge"]), _qi("PatientSex", "PatientAge"), 5)
    assert dict(plan.levels) == {"PatientAge": 1}
    assert plan.suppressed == {}
    assert (plan.k_before, plan.k_after) == (1, 5)
    # 8 ages change (60 and 65 already are band bounds), each at level 1: 1/3, over 10 x 2 cells
    assert plan.information_loss == pytest.approx(8 * (1 / 3) / 20)


def test_ages_over_89_become_90():
    # 62, 63, 64 and 91, 96, 99: level 1 gives 60 x3 and 90 x3 (6 changed cells at 1/3: loss 1/3);
    # level 2 gives the same classes at loss 2/3; exact ages would need all six emptied (loss 1)
    rows = [{"PatientAge": str(a)} for a in (62, 63, 64, 91, 96, 99)]
    frame = _frame(rows, ["PatientAge"])
    plan = plan_k_anonymity(frame, _qi("PatientAge"), 3)
    assert dict(plan.levels) == {"PatientAge": 1} and plan.suppressed == {}
    assert plan.information_loss == pytest.approx(1 / 3)
    from dicom_deid.risk.catalogue import QiKind
    from dicom_deid.risk.hierarchy import generalise

    assert [generalise(QiKind.AGE, str(a), 1) for a in (62, 63, 64, 91, 96, 99)] == ["60"] * 3 + ["90"] * 3


def test_two_rare_values_are_emptied_rather_than_every_age_banded():
    # 61, 66, 71, 76 twice each, 93 and 97 once: K=2 holds except for 93 and 97.  Emptying those two
    # costs 2 cells of 10 (loss 0.2); 5-year bands would change all ten ages at 1/3 (loss 1/3)
    rows = [{"PatientAge": str(a)} for a in (61, 61, 66, 66, 71, 71, 76, 76, 93, 97)]
    plan = plan_k_anonymity(_frame(rows, ["PatientAge"]), _qi("PatientAge"), 2)
    assert dict(plan.levels) == {"PatientAge": 0}
    assert plan.suppressed == {"DD08": ("PatientAge",), "DD09": ("PatientAge",)}
    assert plan.information_loss == pytest.approx(2 / 10) and plan.k_after == 2


def test_dates_of_one_month_become_months():
    days = ["20190301", "20190309", "20190317", "20190402", "20190411", "20190428"]
    rows = [{"StudyDate": d} for d in days]
    plan = plan_k_anonymity(_frame(rows, ["StudyDate"]), _qi("StudyDate"), 3)
    assert dict(plan.levels) == {"StudyDate": 1}  # month: March (3), April (3)
    assert plan.suppressed == {}
    # 5 of 6 dates change (20190301 is already the first of its month), a month costs 1/3
    assert plan.information_loss == pytest.approx(5 * (1 / 3) / 6)


def test_height_and_weight_bands():
    rows = [{"PatientSize": s, "PatientWeight": w} for s, w in
            [("1.61", "71"), ("1.64", "74"), ("1.68", "78"), ("1.72", "81"), ("1.75", "84"), ("1.79", "88")]]
    plan = plan_k_anonymity(_frame(rows, ["PatientSize", "PatientWeight"]), _qi("PatientSize", "PatientWeight"), 3)
    # 0.1 m bands: 1.6 x3, 1.7 x3; 10 kg bands: 70 x3, 80 x3 -> two classes of 3 at levels (1, 1)
    assert dict(plan.levels) == {"PatientSize": 1, "PatientWeight": 1}
    assert plan.suppressed == {} and plan.k_after == 3
    assert plan.information_loss == pytest.approx(12 * (1 / 3) / 12)  # every value moves to its band


def test_rare_device_models_are_generalised_to_the_manufacturer():
    rows = [{"ManufacturerModelName": m} for m in ["A", "A", "A", "B", "C"]]
    plan = plan_k_anonymity(_frame(rows, ["ManufacturerModelName"]), _qi("ManufacturerModelName"), 2)
    assert dict(plan.levels) == {"ManufacturerModelName": 1}
    assert plan.rare_models == frozenset({"B", "C"})  # one patient each: fewer than K=2
    assert plan.suppressed == {}
    # 2 models generalised at 1/2 (height 1) over 5 cells; emptying them instead would cost 2/5
    assert plan.information_loss == pytest.approx(2 * (1 / 2) / 5)


def test_last_resort_empties_the_rare_value_and_joins_donors():
    # sex has no hierarchy: six F and one M with K=3.  The M must be emptied, and an emptied class
    # needs 3 members: two F patients (from the class of 6, which keeps 4) are emptied too.
    rows = [{"PatientSex": s} for s in ["F"] * 3 + ["M"] + ["F"] * 3]
    plan = plan_k_anonymity(_frame(rows, ["PatientSex"]), _qi("PatientSex"), 3)
    assert dict(plan.levels) == {}
    assert len(plan.suppressed) == 3 and "DD03" in plan.suppressed
    assert all(v == ("PatientSex",) for v in plan.suppressed.values())
    assert plan.k_after == 3
    assert plan.information_loss == pytest.approx(3 / 7)


def test_an_already_k_anonymous_population_is_left_unchanged():
    rows = [{"PatientSex": s, "PatientAge": a} for s, a in [("F", "61")] * 5 + [("M", "47")] * 5]
    plan = plan_k_anonymity(_frame(rows, ["PatientSex", "PatientAge"]), _qi("PatientSex", "PatientAge"), 5)
    assert not plan.changed
    assert dict(plan.levels) == {"PatientAge": 0}
    assert plan.information_loss == 0.0 and plan.k_before == plan.k_after == 5


def test_k_larger_than_the_release_is_refused():
    rows = [{"PatientSex": "F"}] * 3
    with pytest.raises(RiskError, match="3 patient.* cannot be 5-anonymous"):
        plan_k_anonymity(_frame(rows, ["PatientSex"]), _qi("PatientSex"), 5)


def test_attributes_never_emptied_can_make_k_unreachable():
    rows = [{"Modality": m} for m in ["CT"] * 4 + ["MR"]]
    with pytest.raises(RiskError, match="Modality"):
        plan_k_anonymity(_frame(rows, ["Modality"]), _qi("Modality"), 2)


# ----------------------------------------------------------------------------- end to end

AGES = [60, 61, 62, 63, 64, 65, 66, 67, 68, 69]


@pytest.fixture(scope="module")
def enforced(tmp_path_factory, key_file):
    base = tmp_path_factory.mktemp("kanon")
    people = [Person(f"P{i:02d}", sex="F", age=a, study_date=f"201903{i + 1:02d}") for i, a in enumerate(AGES)]
    files = write_population(base / "in", people)
    keys = base / "custodian"
    assert main(["keys", "custodian", "--out", str(keys)]) == 0
    argv = ["run", str(base / "in"), str(base / "out"), "--profile", "research", "--pixels", "off", "--quiet",
            "--key-file", str(key_file), "--recipient", str(keys / "custodian.pub"),
            "--mapping", str(base / "run.ddmap"), "--k-anonymity", "5", "--quasi", "PatientSex,PatientAge"]
    assert main(argv) == 0
    return base, files, argv, keys, key_file.parent / "signing.pub"


def _headers(out):
    return {p.relative_to(out).as_posix(): pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))}


def test_run_enforces_k_with_five_year_age_bands(enforced, capsys):
    base, files, _, _, _ = enforced
    heads = _headers(base / "out")
    assert len(heads) == files == 20
    ages = sorted({str(ds.PatientAge) for ds in heads.values()})
    assert ages == ["060Y", "065Y"]  # 60-64 and 65-69
    rows = [r for r in read_manifest(base / "out" / MANIFEST_NAME) if r.get("type") == "k_anonymity"]
    assert [r["status"] for r in rows] == ["started", "done"]
    done = rows[-1]
    assert done["levels"] == {"PatientAge": 1} and done["level_names"]["PatientAge"].startswith("5-year")
    assert (done["k_before"], done["k_after"], done["files_rewritten"]) == (1, 5, 16)  # 8 patients x 2 files
    # the output's own figures agree: every patient in a class of at least 5
    capsys.readouterr()
    assert main(["risk", str(base / "out"), "--quasi", "PatientSex,PatientAge", "--k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["k"], result["patients"], result["patients_below_k"]) == (5, 10, 0)


def test_enforced_output_still_verifies_and_the_mapping_still_links(enforced, capsys):
    base, _, _, keys, trust = enforced
    assert main(["verify", str(base / "out"), "--against", str(base / "in"), "--ocr", "off"]) == 0
    csv_path = base / "links.csv"
    assert main(["mapping", "export", str(base / "run.ddmap"), "--private-key", str(keys / "custodian.key"),
                 "--trust", str(trust), "--csv", str(csv_path)]) == 0
    import csv

    with csv_path.open(newline="") as fh:
        links = list(csv.DictReader(fh))
    pseudonyms = {r["replacement"] for r in links if r["kind"] == "patient_id"}
    held = {str(ds.PatientID) for ds in _headers(base / "out").values()}
    assert len(held) == 10 and held == pseudonyms
    paths = {r["replacement"] for r in links if r["kind"] == "source_path"}
    assert set(_headers(base / "out")) <= paths  # every output file is still where the mapping says


def test_rerunning_the_command_changes_nothing(enforced, capsys, tmp_path):
    import shutil

    base, _, argv, _, _ = enforced
    out_dir = tmp_path / "out"  # a copy: the other tests read the first run's manifest, in any order
    shutil.copytree(base / "out", out_dir)
    before = {p.relative_to(out_dir): p.read_bytes() for p in out_dir.rglob("*.dcm")}
    capsys.readouterr()
    where = {str(base / "run.ddmap"): str(tmp_path / "run2.ddmap"), str(base / "out"): str(out_dir)}
    assert main([where.get(a, a) for a in argv]) == 0  # a mapping per run
    out = capsys.readouterr().out
    assert "nothing: already K-anonymous" in out and "0 file(s) rewritten" in out
    assert {p.relative_to(out_dir): p.read_bytes() for p in out_dir.rglob("*.dcm")} == before
    assert len(before) == 20


def test_k_anonymity_options_are_checked_before_any_work(tmp_path, capsys):
    for argv, message in (
        (["--k-anonymity", "1"], "--k-anonymity must be at least 2, got 1"),
        (["--quasi", "PatientSex"], "--quasi only applies with --k-anonymity"),
        (["--k-anonymity", "5", "--dry-run"], "--k-anonymity cannot be combined with --dry-run"),
        (["--k-anonymity", "5", "--quasi", "NoSuchKeyword"], "unknown attribute 'NoSuchKeyword'"),
    ):
        rc = main(["run", str(tmp_path), str(tmp_path / "out"), *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0], (argv, err)
    assert not (tmp_path / "out").exists()


def test_class_sizes_agree_with_a_group_count():
    frame = _frame([{"A": "x"}, {"A": "x"}, {"A": "y"}], ["A"])
    assert class_sizes(frame, ["A"]).tolist() == [2, 2, 1]


def test_rewrite_generalises_every_date_and_empties_planned_values():
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from dicom_deid.risk.enforce import Generalisation
    from dicom_deid.risk.rewrite import apply_to_dataset

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.StudyDate, ds.AcquisitionDateTime = "20190317", "20190317101500.5"
    item = Dataset()
    item.ReferencedDateTime = "20190320083000"
    item.InstanceCreationDate = "20190321"
    ds.ReferencedImageSequence = Sequence([item])
    ds.PatientAge, ds.PatientWeight, ds.ManufacturerModelName = "063Y", "78.5", "RARE-1"
    plan = Generalisation(5, ("StudyDate", "PatientAge", "PatientWeight", "ManufacturerModelName"),
                          {"StudyDate": 1, "PatientAge": 2, "PatientWeight": 1, "ManufacturerModelName": 1},
                          rare_models=frozenset({"RARE-1"}), suppressed={"DD01": ("PatientWeight",)},
                          kinds={"StudyDate": "date", "PatientAge": "age", "PatientWeight": "weight",
                                 "ManufacturerModelName": "device_model"})
    assert apply_to_dataset(ds, plan, "DD02")
    assert (ds.StudyDate, ds.AcquisitionDateTime) == ("20190301", "20190301101500.5")  # DT keeps its time
    assert (item.ReferencedDateTime, item.InstanceCreationDate) == ("20190301083000", "20190301")
    assert (ds.PatientAge, str(ds.PatientWeight), ds.ManufacturerModelName) == ("060Y", "70", "")
    assert not apply_to_dataset(ds, plan, "DD02")  # idempotent
    assert apply_to_dataset(ds, plan, "DD01") and ds.PatientWeight in ("", None)  # this patient's weight emptied


def test_an_emptied_study_date_takes_every_other_date_with_it():
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from dicom_deid.risk.enforce import Generalisation
    from dicom_deid.risk.rewrite import apply_to_dataset

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image: these dates are Type 2 or 3
    ds.StudyDate, ds.SeriesDate, ds.AcquisitionDateTime = "20190317", "20190317", "20190317101500"
    item = Dataset()
    item.InstanceCreationDate = "20190321"
    ds.ReferencedImageSequence = Sequence([item])
    plan = Generalisation(5, ("StudyDate",), {"StudyDate": 0}, suppressed={"DD01": ("StudyDate",)},
                          kinds={"StudyDate": "date"})
    assert apply_to_dataset(ds, plan, "DD01")
    assert [str(v) for v in (ds.StudyDate, ds.SeriesDate, ds.AcquisitionDateTime, item.InstanceCreationDate)] == [
        "", "", "", ""]


def test_report_records_the_generalisation(enforced, tmp_path):
    from dicom_deid.report import render_report

    base = enforced[0]
    text = render_report(base / "out", tmp_path / "review.html", sample_thumbnails=0).read_text(encoding="utf-8")
    section = text[text.index('<section id="kanon">'):]
    section = section[:section.index("</section>")]
    assert "PatientAge: 5-year bands, 90 and over as 90" in section
    assert "1 → 5" in section and "13.3%" in section  # loss: 8 of 10 ages at 1/3 over 10 x 2 cells
    assert '<p class="ok">Every patient shares its quasi-identifiers with at least 4 others' in text
