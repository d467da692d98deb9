"""Pre-labeling round trip (issue 12): a CT series with the objects labeling tools make and read
(a SEG, an SR, a GSPS and a Key Object Selection built by highdicom, an RTSTRUCT built with
pydicom following PS3.3 A.19), de-identified with ``dicom-deid run``.

After the run highdicom reads the SEG and finds every source image in the output by its new UID;
the RTSTRUCT's referenced frame of reference, study and series exist; every reference in the
output resolves to an output object whenever its target was in the input, and no such reference
is lost; dciodvfy finds no error the input did not have; the planted identifying values are gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import highdicom as hd  # the test extra: pip install -e '.[test]'
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_deid.cli import main
from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from tests.conformance import dciodvfy_errors
from tests.phi_scan import scan_tree

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
RTSTRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
DETACHED_STUDY = "1.2.840.10008.3.1.2.3.1"  # PS3.3 C.8.8.5.1: RT Referenced Study Sequence's class
SLICES = 4
PLANTED = ["ROUNDTRIPSURNAME", "ROUNDTRIPGIVEN", "RTMRN4711", "SECRETREADER", "SECRETCREATOR",
           "SECRETINTERPRETER", "SECRETHOSPITAL"]
DEVICE_IDENTITY = ["SECRETSERIAL"]  # Device Serial Number: kept by Retain Device Identity (research)
REFERENCE_KEYWORDS = ("ReferencedSOPInstanceUID", "ReferencedFrameOfReferenceUID")
NESTED_ENTITY_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")


def _ct_series() -> list[Dataset]:
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    out = []
    rng = np.random.default_rng(12)
    for i in range(SLICES):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CT_IMAGE, generate_uid()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CT_IMAGE, ds.SOPInstanceUID
        ds.PatientName, ds.PatientID = "ROUNDTRIPSURNAME^ROUNDTRIPGIVEN", "RTMRN4711"
        ds.PatientBirthDate, ds.PatientSex = "19600214", "F"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20230405", "101010", "1", "RTACC99"
        ds.ReferringPhysicianName, ds.InstitutionName = "", "SECRETHOSPITAL"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, i + 1
        ds.Manufacturer, ds.PositionReferenceIndicator = "ACME", ""
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ContentDate, ds.ContentTime, ds.AcquisitionNumber = "20230405", "101010", 1
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], 1.0
        ds.KVP, ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 120, -1024, 1, "HU"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = 16
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = rng.integers(0, 4095, (16, 16), dtype=np.uint16).tobytes()
        out.append(ds)
    return out


def _seg(cts: list[Dataset]) -> Dataset:
    mask = np.zeros((SLICES, 16, 16), dtype=bool)
    mask[1:3, 4:9, 5:11] = True
    algorithm = hd.AlgorithmIdentificationSequence(name="threshold", version="1",
                                                   family=codes.cid7162.ArtificialIntelligence)
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion", segmented_property_category=codes.cid7150.Tissue,
        segmented_property_type=codes.cid7166.ConnectiveTissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm,
        tracking_uid=hd.UID(), tracking_id="lesion 1")
    return hd.seg.Segmentation(
        source_images=cts, pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment], series_instance_uid=hd.UID(), series_number=2,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="ACME", manufacturer_model_name="Seg",
        software_versions="1", device_serial_number="SECRETSERIAL", content_creator_name="SECRETCREATOR^A",
        omit_empty_frames=False)


def _sr(cts: list[Dataset]) -> Dataset:
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="SECRETREADER^B"))
    region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POINT, graphic_data=np.array([[6.0, 6.0]]),
                               source_image=hd.sr.SourceImageForRegion.from_source_image(cts[1]))
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="lesion 1"),
        referenced_region=region, finding_type=codes.SCT.Lesion,
        measurements=[hd.sr.Measurement(name=codes.SCT.Diameter, value=5.0, unit=codes.UCUM.Millimeter)])
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion, imaging_measurements=[group])
    return hd.sr.Comprehensive3DSR(evidence=cts, content=report, series_number=3, series_instance_uid=hd.UID(),
                                   sop_instance_uid=hd.UID(), instance_number=1, manufacturer="ACME")


def _gsps(cts: list[Dataset]) -> Dataset:
    layer = hd.pr.GraphicLayer(layer_name="ANNOTATIONS", order=1)
    annotation = hd.pr.GraphicAnnotation(
        referenced_images=[cts[2]], graphic_layer=layer,
        graphic_objects=[hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POINT,
                                             graphic_data=np.array([[6.0, 6.0]]),
                                             units=hd.pr.AnnotationUnitsValues.PIXEL)])
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=cts, series_instance_uid=hd.UID(), series_number=4, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="ACME", manufacturer_model_name="Viewer", software_versions="1",
        device_serial_number="SECRETSERIAL", content_label="LESION", graphic_layers=[layer],
        graphic_annotations=[annotation], content_creator_name="SECRETCREATOR^C")


def _kos(cts: list[Dataset]) -> Dataset:
    content = hd.ko.KeyObjectSelection(document_title=codes.DCM.OfInterest, referenced_objects=cts[1:3],
                                       description="Key images of the lesion")
    return hd.ko.KeyObjectSelectionDocument(evidence=cts, content=content, series_instance_uid=hd.UID(),
                                            series_number=6, sop_instance_uid=hd.UID(), instance_number=1,
                                            manufacturer="ACME", institution_name="SECRETHOSPITAL")


def _item(**elements: Any) -> Dataset:
    item = Dataset()
    for keyword, value in elements.items():
        setattr(item, keyword, value)
    return item


def _rtstruct(cts: list[Dataset]) -> Dataset:
    """RT Structure Set IOD (PS3.3 A.19): Patient, General Study, RT Series, General Equipment,
    Structure Set, ROI Contour, RT ROI Observations and SOP Common modules."""
    first = cts[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT, generate_uid()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = RTSTRUCT, ds.SOPInstanceUID
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                    "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName"):
        setattr(ds, keyword, first.data_element(keyword).value)
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 5
    ds.OperatorsName, ds.Manufacturer = "SECRETCREATOR^D", "ACME"
    ds.StructureSetLabel, ds.StructureSetDate, ds.StructureSetTime = "LESIONS", "20230405", "101010"
    images = [_item(ReferencedSOPClassUID=ct.SOPClassUID, ReferencedSOPInstanceUID=ct.SOPInstanceUID) for ct in cts]
    series = _item(SeriesInstanceUID=first.SeriesInstanceUID, ContourImageSequence=Sequence(images))
    study = _item(ReferencedSOPClassUID=DETACHED_STUDY, ReferencedSOPInstanceUID=first.StudyInstanceUID,
                  RTReferencedSeriesSequence=Sequence([series]))
    ds.ReferencedFrameOfReferenceSequence = Sequence([_item(
        FrameOfReferenceUID=first.FrameOfReferenceUID, RTReferencedStudySequence=Sequence([study]))])
    ds.StructureSetROISequence = Sequence([_item(
        ROINumber=1, ReferencedFrameOfReferenceUID=first.FrameOfReferenceUID, ROIName="lesion",
        ROIGenerationAlgorithm="MANUAL")])
    contours = []
    for ct in cts[1:3]:
        z = float(ct.ImagePositionPatient[2])
        contours.append(_item(
            ContourImageSequence=Sequence([_item(ReferencedSOPClassUID=ct.SOPClassUID,
                                                 ReferencedSOPInstanceUID=ct.SOPInstanceUID)]),
            ContourGeometricType="CLOSED_PLANAR", NumberOfContourPoints=4,
            ContourData=[5.0, 4.0, z, 10.0, 4.0, z, 10.0, 8.0, z, 5.0, 8.0, z]))
    ds.ROIContourSequence = Sequence([_item(ReferencedROINumber=1, ROIDisplayColor=[255, 0, 0],
                                            ContourSequence=Sequence(contours))])
    ds.RTROIObservationsSequence = Sequence([_item(
        ObservationNumber=1, ReferencedROINumber=1, RTROIInterpretedType="ORGAN",
        ROIInterpreter="SECRETINTERPRETER^E")])
    ds.SpecificCharacterSet = "ISO_IR 100"
    return ds


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    inp = tmp_path_factory.mktemp("prelabel") / "in"
    cts = _ct_series()
    objects = {"SEG": _seg(cts), "SR": _sr(cts), "GSPS": _gsps(cts), "RTSTRUCT": _rtstruct(cts), "KOS": _kos(cts)}
    for i, ct in enumerate(cts):
        (inp / "CT").mkdir(parents=True, exist_ok=True)
        ct.save_as(inp / "CT" / f"IM{i}", enforce_file_format=True)
    for name, ds in objects.items():
        ds.save_as(inp / name, enforce_file_format=True)
    return {"root": inp, "cts": cts, **objects}


@pytest.fixture(scope="module", params=["basic", "research"])
def run(request: pytest.FixtureRequest, study: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
        key_file: Path) -> dict[str, Any]:
    out = tmp_path_factory.mktemp(f"prelabel-{request.param}") / "out"
    rc = main(["run", str(study["root"]), str(out), "--profile", request.param, "--pixels", "off",
               "--key-file", str(key_file), "--quiet"])
    rows = [r for r in read_manifest(out / MANIFEST_NAME) if r.get("type") == "file"]
    paths = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in sorted(out.rglob("*.dcm"))}
    datasets = [pydicom.dcmread(p) for p in paths.values()]
    by_modality: dict[str, list[Dataset]] = {}
    for ds in datasets:
        by_modality.setdefault(str(ds.Modality), []).append(ds)
    return {"rc": rc, "rows": rows, "out": out, "datasets": datasets, "by_modality": by_modality,
            "profile": request.param, "paths": paths}


def test_every_object_is_written(run: dict[str, Any]) -> None:
    assert run["rc"] == 0
    assert [r["outcome"] for r in run["rows"]] == ["written"] * (SLICES + 5)
    assert sorted((m, len(v)) for m, v in run["by_modality"].items()) == [
        ("CT", SLICES), ("KO", 1), ("PR", 1), ("RTSTRUCT", 1), ("SEG", 1), ("SR", 1)]


def test_highdicom_reads_the_seg_and_finds_every_source_image_by_its_new_uid(
        run: dict[str, Any], study: dict[str, Any]) -> None:
    cts = run["by_modality"]["CT"]
    new_uids = {str(ct.SOPInstanceUID) for ct in cts}
    old_uids = {str(ct.SOPInstanceUID) for ct in study["cts"]}
    assert not new_uids & old_uids  # precondition: the UIDs were replaced
    (seg_ds,) = run["by_modality"]["SEG"]
    seg = hd.seg.segread(_path_of(run, seg_ds))
    sources = seg.get_source_image_uids()
    assert {sop for _, _, sop in sources} == new_uids
    assert {series for _, series, _ in sources} == {str(cts[0].SeriesInstanceUID)}
    assert {studyuid for studyuid, _, _ in sources} == {str(cts[0].StudyInstanceUID)}
    # the same mask, read back through the new source UIDs, slice by slice
    by_position = sorted(cts, key=lambda ds: float(ds.ImagePositionPatient[2]))
    pixels = seg.get_pixels_by_source_instance([str(ct.SOPInstanceUID) for ct in by_position],
                                               combine_segments=True)
    expected = study["SEG"].pixel_array.astype(bool)
    assert np.array_equal(pixels.astype(bool), expected)
    assert str(seg.FrameOfReferenceUID) == str(cts[0].FrameOfReferenceUID)
    checked = 0
    for frame in seg.PerFrameFunctionalGroupsSequence:
        for derivation in frame.DerivationImageSequence:
            for source in derivation.SourceImageSequence:
                assert str(source.ReferencedSOPInstanceUID) in new_uids
                checked += 1
    assert checked == SLICES  # every frame keeps its source (was: 0 items)


def test_rtstruct_references_frame_of_reference_study_and_series_of_the_output(run: dict[str, Any]) -> None:
    cts = run["by_modality"]["CT"]
    (rt,) = run["by_modality"]["RTSTRUCT"]
    frame = rt.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == cts[0].FrameOfReferenceUID
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == cts[0].StudyInstanceUID == rt.StudyInstanceUID
    series = study.RTReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == cts[0].SeriesInstanceUID
    assert {str(i.ReferencedSOPInstanceUID) for i in series.ContourImageSequence} == {
        str(ct.SOPInstanceUID) for ct in cts}
    assert rt.StructureSetROISequence[0].ReferencedFrameOfReferenceUID == cts[0].FrameOfReferenceUID
    contour_refs = {str(c.ContourImageSequence[0].ReferencedSOPInstanceUID)
                    for c in rt.ROIContourSequence[0].ContourSequence}
    assert len(contour_refs) == 2 and contour_refs <= {str(ct.SOPInstanceUID) for ct in cts}


def test_sr_and_gsps_point_at_output_images(run: dict[str, Any]) -> None:
    cts = {str(ct.SOPInstanceUID) for ct in run["by_modality"]["CT"]}
    (sr_ds,) = run["by_modality"]["SR"]
    sr = hd.sr.srread(_path_of(run, sr_ds))
    evidence = {str(i.ReferencedSOPInstanceUID) for s in sr.CurrentRequestedProcedureEvidenceSequence
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence}
    assert evidence == cts
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 1
    source = hd.sr.SourceImageForRegion.from_dataset(groups[0].roi.ContentSequence[0])  # SELECTED FROM
    assert str(source.referenced_sop_instance_uid) in cts
    (pr,) = run["by_modality"]["PR"]
    shown = {str(i.ReferencedSOPInstanceUID) for s in pr.ReferencedSeriesSequence for i in s.ReferencedImageSequence}
    assert shown == cts
    annotated = {str(i.ReferencedSOPInstanceUID) for a in pr.GraphicAnnotationSequence
                 for i in a.ReferencedImageSequence}
    assert len(annotated) == 1 and annotated <= cts
    assert pr.PresentationCreationDate  # Type 1 in the presentation state: a dummy, not removed
    (ko,) = run["by_modality"]["KO"]
    key_images = {str(i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID) for i in ko.ContentSequence
                  if i.ValueType == "IMAGE"}
    assert len(key_images) == 2 and key_images <= cts


def _references(ds: Dataset) -> Iterator[tuple[str, str, str]]:
    """(kind, location, uid) of every reference, at any depth."""
    def walk(d: Dataset, where: str, depth: int) -> Iterator[tuple[str, str, str]]:
        for elem in d:
            if elem.VR == "SQ":
                for i, item in enumerate(elem.value or ()):
                    yield from walk(item, f"{where}{elem.keyword}[{i}].", depth + 1)
            elif elem.keyword in REFERENCE_KEYWORDS or (depth and elem.keyword in NESTED_ENTITY_KEYWORDS):
                yield elem.keyword, f"{where}{elem.keyword}", str(elem.value)
    return walk(ds, "", 0)


def _targets(datasets: list[Dataset]) -> set[str]:
    uids: set[str] = set()
    for ds in datasets:
        uids |= {str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)}
        uids |= {str(e.value) for e in ds.iterall() if e.keyword == "FrameOfReferenceUID"}
    return uids


def test_every_reference_resolves_and_none_is_lost(run: dict[str, Any], study: dict[str, Any]) -> None:
    inputs = [pydicom.dcmread(p) for p in sorted(study["root"].rglob("*")) if p.is_file()]
    in_targets, out_targets = _targets(inputs), _targets(run["datasets"])
    expected = [(kind, loc) for ds in inputs for kind, loc, uid in _references(ds) if uid in in_targets]
    found = [(kind, loc) for ds in run["datasets"] for kind, loc, uid in _references(ds)]
    broken = [(kind, loc, uid) for ds in run["datasets"] for kind, loc, uid in _references(ds)
              if uid not in out_targets]
    assert broken == []
    assert sorted(found) == sorted(expected)  # the same references, at the same places
    assert len(expected) >= 30  # precondition: SEG, SR, GSPS and RTSTRUCT reference plenty


def test_planted_identifying_values_are_gone(run: dict[str, Any], study: dict[str, Any]) -> None:
    planted = PLANTED + (DEVICE_IDENTITY if run["profile"] == "basic" else [])
    hits, count = scan_tree(run["out"], planted)
    assert count == SLICES + 5
    assert hits == []
    old_uids = {str(e.value) for p in study["root"].rglob("*") if p.is_file()
                for e in pydicom.dcmread(p).iterall() if e.VR == "UI" and str(e.value).startswith("1.2.826.0.1.3680043")}
    assert old_uids  # precondition: pydicom/highdicom instance UIDs were planted
    hits, _ = scan_tree(run["out"], old_uids)
    assert hits == []


def test_dciodvfy_finds_no_new_error(run: dict[str, Any], study: dict[str, Any]) -> None:
    """Message by message: a new message fails even if another went away."""
    errors = dciodvfy_errors
    sources = {str(pydicom.dcmread(p, stop_before_pixels=True).Modality): p
               for p in sorted(study["root"].rglob("*")) if p.is_file()}  # one input per modality
    checked = 0
    for modality, source in sources.items():
        output = _path_of(run, run["by_modality"][modality][0])
        new = errors(output) - errors(source)
        assert not new, (modality, sorted(new))
        checked += 1
    assert checked == 6


def _path_of(run: dict[str, Any], ds: Dataset) -> Path:
    path: Path = run["paths"][str(ds.SOPInstanceUID)]
    return path
