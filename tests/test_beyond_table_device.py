"""RT Radiation Machine Name (3002,0020) is not in Table E.1-1 but names the treatment machine
like its twin Treatment Machine Name (300A,00B2, X/Z, Retain Device Identity K): it is handled
the same way (review finding: 'TrueBeam1309' kept under basic in a public fo-dicom RT Image)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicom_deid.api import Deidentifier
from dicom_deid.keys import SecretKey

KEY = SecretKey.from_bytes(bytes(range(32)))
RT_IMAGE = "1.2.840.10008.5.1.4.1.1.481.1"


def _rt_image() -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = RT_IMAGE, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID, ds.PatientName = "RTIMAGE", "RT-4431", "Doe^Jane"
    ds.RadiationMachineName = "TrueBeam1309"
    return ds


def _out(profile: str, *options: str) -> Dataset:
    return Deidentifier(profile=profile, key=KEY, pixels="off", options=list(options)).dataset(_rt_image()).dataset


def test_basic_empties_the_radiation_machine_name_the_rt_image_module_requires():
    out = _out("basic")
    assert "RadiationMachineName" in out and out.RadiationMachineName == ""  # Type 2 in the RT Image Module


def test_retain_device_identity_keeps_it():
    assert _out("basic", "retain-device-identity").RadiationMachineName == "TrueBeam1309"
