"""End to end against a real PACS: DCMTK storescu -> `dicom-deid serve` -> Orthanc, and
Orthanc -> `dicom-deid pull` -> folder; both compared with `dicom-deid run` on the same files.

Orthanc (Debian package) runs on loopback with its own configuration and storage in tmp_path,
on ports chosen at run time; what arrived is read back through its REST API.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicom_deid.cli import main
from tests import netharness
from tests.netharness import (
    HANG_GUARD,
    STORESCU,
    free_port,
    modality,
    needs_orthanc,
    needs_storescu,
)
from tests.phi_scan import scan_tree
from tests.planted import generate_corpus

orthancs = netharness.orthancs  # fixtures
node_processes = netharness.node_processes

pytestmark = needs_orthanc

REFERENCED_SOP = 0x00081155  # ReferencedSOPInstanceUID


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One patient, two studies (CT + RT dose + SC + SR; MR + SC + US), five transfer syntaxes."""
    return generate_corpus(tmp_path_factory.mktemp("net") / "in", seed=21, patients=1)


@pytest.fixture(scope="module")
def study_files(corpus) -> list[Path]:
    return sorted(corpus.dicom_files)


@pytest.fixture(scope="module")
def run_output(corpus, study_files, key_file, tmp_path_factory) -> dict[str, Dataset]:
    """The same files through `dicom-deid run`: de-identified SOP Instance UID -> dataset."""
    src = tmp_path_factory.mktemp("run") / "in"
    for path in study_files:
        target = src / path.relative_to(corpus.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    out = src.with_name("out")
    assert main(["run", str(src), str(out), "--key-file", str(key_file), "--pixels", "off", "--quiet",
                 "--workers", "1"]) == 0
    datasets = [pydicom.dcmread(p) for p in out.rglob("*.dcm")]
    assert len(datasets) == len(study_files)
    return {str(ds.SOPInstanceUID): ds for ds in datasets}


def _storescu_config(files: list[Path], path: Path) -> Path:
    """A storescu profile proposing each file's own SOP class and transfer syntax (no conversion)."""
    pairs = sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
                    for ds in (pydicom.dcmread(f, stop_before_pixels=True) for f in files)})
    syntaxes = sorted({ts for _, ts in pairs})
    lines = ["[[TransferSyntaxes]]"]
    for i, ts in enumerate(syntaxes):
        lines += [f"[TS{i}]", f"TransferSyntax1 = {ts}"]
    lines += ["[[PresentationContexts]]", "[Study]"]
    lines += [f"PresentationContext{n} = {sop}\\TS{syntaxes.index(ts)}" for n, (sop, ts) in enumerate(pairs, 1)]
    lines += ["[[Profiles]]", "[Study]", "PresentationContexts = Study"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _storescu(config: Path, port: int, files: list[Path]) -> None:
    assert STORESCU is not None
    done = subprocess.run([STORESCU, "-xf", str(config), "Study", "-aet", "MODALITY", "-aec", "DEID",
                           "127.0.0.1", str(port), *map(str, files)], check=False, capture_output=True, text=True,
                          timeout=HANG_GUARD, env={**os.environ, "TCP_NODELAY": "1"})
    assert done.returncode == 0 and "E:" not in done.stderr, done.stderr


def _referenced(ds: Dataset) -> list[str]:
    """Every ReferencedSOPInstanceUID, at any depth."""
    found: list[str] = []
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or ():
                found += _referenced(item)
        elif elem.tag == REFERENCED_SOP and elem.value:
            found.append(str(elem.value))
    return found


def _resolvable_references(datasets: list[Dataset]) -> int:
    sops = {str(ds.SOPInstanceUID) for ds in datasets}
    return sum(1 for ds in datasets for uid in _referenced(ds) if uid in sops)


def _differences(a: Dataset, b: Dataset) -> list[str]:
    """Keywords (or tags) whose elements differ, file meta excluded."""
    tags = sorted(set(a.keys()) | set(b.keys()))
    return [pydicom.datadict.keyword_for_tag(t) or str(t) for t in tags
            if t.group != 0x0002 and (t not in a or t not in b or a[t] != b[t])]


@needs_storescu
def test_storescu_to_orthanc_through_serve_matches_run(corpus, study_files, run_output, key_file, tmp_path,
                                                        orthancs, node_processes):
    originals = [pydicom.dcmread(p) for p in study_files]
    studies = {str(ds.StudyInstanceUID) for ds in originals}
    series = {str(ds.SeriesInstanceUID) for ds in originals}
    assert len(studies) == 2 and len({str(ds.Modality) for ds in originals}) >= 5  # precondition: mixed
    assert _resolvable_references(originals) > 0  # precondition: the study has references to keep

    orthanc = orthancs("orthanc", {"deid": modality("DEID", 1, store=True)}).start()
    node = node_processes(["-v", "serve", "--port", "0", "--allow-ae", "MODALITY", "--forward", orthanc.peer,
                        "--key-file", str(key_file), "--pixels", "off", "--spool", str(tmp_path / "spool"),
                        "--progress", "json"])
    config = _storescu_config(study_files, tmp_path / "storescu.cfg")
    first = [p for p, ds in zip(study_files, originals, strict=True) if ds.Modality == "CT"]
    rest = [p for p in study_files if p not in first]
    _storescu(config, node.port, first)  # two associations: one study split across both
    _storescu(config, node.port, rest)
    node.wait_counters(lambda c: c["forwarded"] == len(study_files), "all forwarded")
    assert node.terminate() == 0
    stdout, stderr = node.finish_output()
    assert (f"stopped: received {len(study_files)}, de-identified {len(study_files)}, quarantined 0, "
            f"forwarded {len(study_files)}") in stdout

    files = orthanc.instance_files()
    stored = [pydicom.dcmread(pydicom.filebase.DicomBytesIO(data)) for data in files.values()]
    assert len(stored) == len(study_files)
    # consistent UIDs: the same study / series structure under new UIDs, references still resolve
    assert len({str(ds.StudyInstanceUID) for ds in stored}) == len(studies)
    assert len({str(ds.SeriesInstanceUID) for ds in stored}) == len(series)
    references = [uid for ds in stored for uid in _referenced(ds)]
    assert references and _resolvable_references(stored) == len(references)  # none left dangling
    # nothing planted arrived in the PACS, and the node's own log (-v: debug) holds none of it
    needles = corpus.phi_strings() | corpus.original_uids
    saved = tmp_path / "arrived"
    saved.mkdir()
    for i, data in enumerate(files.values()):
        (saved / f"{i}.dcm").write_bytes(data)
    hits, scanned = scan_tree(saved, needles)
    assert scanned == len(study_files) and hits == []
    assert [n for n in needles if n in stderr + stdout] == []
    # the same study through `dicom-deid run` gives the same datasets
    compared = 0
    for ds in stored:
        twin = run_output[str(ds.SOPInstanceUID)]
        assert _differences(ds, twin) == [], ds.SOPClassUID.name
        compared += 1
    assert compared == len(run_output)


def test_pull_with_query_and_with_study_matches_run(corpus, study_files, run_output, key_file, tmp_path, capsys,
                                                    orthancs):
    move_port = free_port()
    orthanc = orthancs("pacs", {"deid": modality("DEID", move_port, find=True, get=True, move=True,
                                                 store=True)}).start()
    for path in study_files:  # the PACS holds the originals
        orthanc.upload(path.read_bytes())
    assert len(orthanc.get("/instances")) == len(study_files)
    originals = [pydicom.dcmread(p, stop_before_pixels=True) for p in study_files]
    by_study: dict[str, int] = {}
    for ds in originals:
        by_study[str(ds.StudyInstanceUID)] = by_study.get(str(ds.StudyInstanceUID), 0) + 1
    (mr_study,) = {str(ds.StudyInstanceUID) for ds in originals if ds.Modality == "MR"}
    common = ["--key-file", str(key_file), "--pixels", "off", "--spool", str(tmp_path / "spool")]
    # C-FIND on the patient, then C-GET of each study found
    got = tmp_path / "get"
    rc = main(["pull", "--from", orthanc.peer, "--query", f"PatientID={corpus.patients['P1']}",
               "--out", str(got), *common])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"{len(by_study)} studies, {len(study_files)} instances retrieved (0 failed)" in out
    # one study by UID, with C-MOVE to the node's own SCP
    moved = tmp_path / "move"
    rc = main(["pull", "--from", orthanc.peer, "--study", mr_study, "--retrieve", "move", "--port",
               str(move_port), "--out", str(moved), *common])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"1 studies, {by_study[mr_study]} instances retrieved (0 failed)" in out
    # and once more, forwarded to a research archive (here the same Orthanc: it then holds both copies)
    rc = main(["pull", "--from", orthanc.peer, "--study", mr_study, "--forward", orthanc.peer, *common])
    out = capsys.readouterr().out
    assert rc == 0 and f"forwarded {by_study[mr_study]}," in out, out
    arrived = {str(pydicom.dcmread(pydicom.filebase.DicomBytesIO(data)).SOPInstanceUID)
               for data in orthanc.instance_files().values()}
    assert len(arrived) == len(study_files) + by_study[mr_study]
    forwarded = [ds for uid, ds in run_output.items() if uid in arrived]  # de-identified as `run` does it
    assert len(forwarded) == by_study[mr_study] and len({str(ds.StudyInstanceUID) for ds in forwarded}) == 1
    compared = 0
    for folder, expected in ((got, len(study_files)), (moved, by_study[mr_study])):
        outputs = sorted(folder.rglob("*.dcm"))
        assert len(outputs) == expected
        for path in outputs:
            ds = pydicom.dcmread(path)
            assert _differences(ds, run_output[str(ds.SOPInstanceUID)]) == []
            compared += 1
    assert compared == len(study_files) + by_study[mr_study]
