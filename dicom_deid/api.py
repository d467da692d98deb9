"""The public Python API: :class:`Deidentifier`, the front door the CLI and the network node use too.

A ``Deidentifier`` is built once from a profile, a key, a pixel mode and an optional subject
map; it holds the one description of the engine (``deidentify.Engine``: frozen, picklable, sent
as is to workers, Dask tasks and the network node) and de-identifies a pydicom ``Dataset`` in
memory, one file, or a whole folder (a batch run with manifest, quarantine and sealed mapping)::

    from dicom_deid import Deidentifier

    deid = Deidentifier(profile="research", key="secret.key", subject_map="subjects.csv")
    result = deid.dataset(ds)            # result.dataset, result.changes
    deid.file("in/IM0001", "out/IM0001.dcm")
    summary = deid.run("export/", "research-set/", workers=4, recipient="custodian.pub")

Nothing else assembles an engine.  Choices are converted to their enums here, at the edge.
"""

from __future__ import annotations

import copy
import uuid
import warnings as _warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from dicom_deid.config import RunConfig
from dicom_deid.deidentify import Deidentified, Engine, deidentify
from dicom_deid.errors import ConfigError, DeidError, OcrUnavailable, UnreadableDicomError
from dicom_deid.events import Event
from dicom_deid.keys import SecretKey, default_key_dir, load_or_create_secret_key, load_secret_key
from dicom_deid.pipeline import RunSummary
from dicom_deid.pipeline import run as run_batch
from dicom_deid.pixels.mode import PixelMode, check_pixel_options
from dicom_deid.profiles import DocumentPolicy, Option, Profile, load_profile, parse_override
from dicom_deid.read import parse_instance
from dicom_deid.subjects import SubjectMap, Unmapped, load_subject_map
from dicom_deid.walk import input_root
from dicom_deid.write import encode_dataset, write_output


class DeidWarning(UserWarning):
    """A choice that weakens de-identification without being an error (e.g. no burned-in text
    redaction).  Also printed by the CLI on every run and recorded in the manifest and report."""


def pixel_warnings(profile: Profile, pixels: PixelMode | None) -> tuple[str, ...]:
    """Why burned-in text would silently stay: the profile leaves it out and nobody said so."""
    if pixels is not None:
        return ()  # an explicit choice, --pixels off included
    if Option.CLEAN_PIXEL_DATA not in profile.options:
        return ((f"profile {profile.name!r} does not select clean_pixel_data: burned-in text in pixel data is NOT "
                "redacted; add clean_pixel_data to its options (or base it on a named profile), or pass "
                "--pixels off to say this is intended"),)
    if profile.pixel_mode == PixelMode.OFF.value:
        return ((f"profile {profile.name!r} sets [pixels] mode = \"off\": burned-in text in pixel data is NOT "
                "redacted; pass --pixels off to say this is intended"),)
    return ()


_OCR_MODULES = (("onnxruntime", "onnxruntime"), ("cv2", "opencv-python-headless"))


def check_ocr_installed() -> None:
    """Burned-in text redaction needs the ``ocr`` extra and the DBNet model: say so before a run
    starts (rather than quarantining every image that must be examined, one by one)."""
    import importlib.util

    from dicom_deid.pixels.ocr import find_dbnet_model

    missing = [package for module, package in _OCR_MODULES if importlib.util.find_spec(module) is None]
    try:
        find_dbnet_model()
    except OcrUnavailable:
        missing.append("rapidocr-onnxruntime (the DBNet text-detection model)")
    if missing:
        raise OcrUnavailable(f"burned-in text redaction cannot run: {', '.join(missing)} not installed: "
                             "pip install 'dicom-deid[ocr]', then pip install --no-deps "
                             "'rapidocr-onnxruntime==1.4.4'; or run with --pixels off")


def build_engine(profile: Profile, key: SecretKey, *, pixels: PixelMode | None = None,
                 subject_map: SubjectMap | None = None) -> tuple[Engine, tuple[str, ...]]:
    """The engine description and its warnings.  ``pixels`` None: the profile's choice.

    An explicit ``auto`` or ``all`` selects Clean Pixel Data (the flag does what it says); an
    explicit ``off`` turns redaction off without a warning; a profile that leaves redaction out
    while nobody said ``off`` gets a warning."""
    notes = pixel_warnings(profile, pixels)
    if pixels is None:
        wanted = Option.CLEAN_PIXEL_DATA in profile.options or Option.CLEAN_RECOGNIZABLE_VISUAL_FEATURES in profile.options
        mode = PixelMode(profile.pixel_mode) if wanted else PixelMode.OFF
    else:
        mode = pixels
        if mode is not PixelMode.OFF and Option.CLEAN_PIXEL_DATA not in profile.options:
            profile = replace(profile, options=profile.options | {Option.CLEAN_PIXEL_DATA})
    check_pixel_options(profile, mode)  # an option is carried out or refused, never ignored
    if mode is not PixelMode.OFF:
        check_ocr_installed()
    return Engine(profile, key, mode, subject_map), notes


class Deidentifier:
    """De-identify DICOM per PS3.15 Annex E: a Dataset in memory, a file, or a folder.

    ``profile``: a named profile (``basic``, ``research``, ``safe-harbor``), a TOML file, or a
    loaded :class:`~dicom_deid.profiles.Profile`; ``options``, ``overrides`` (``TAG=ACTION``)
    and ``documents`` add to it as the CLI flags do.  ``key``: a :class:`SecretKey`, a key file,
    or None for the default key file (created on first use, mode 0600).  ``subject_map``: the
    team's PatientID -> subject ID table (``.csv``/``.toml``, or a loaded :class:`SubjectMap`);
    None uses the profile's ``[subjects]`` if any.  ``pixels``: burned-in text redaction
    (``auto``, ``all``, ``off``; None: the profile's).  ``unmapped``: what happens to a patient
    the subject map does not list (``error``, the default, or ``keyed``).
    """

    def __init__(self, profile: str | Path | Profile = "basic", *, key: SecretKey | str | Path | None = None,
                 subject_map: SubjectMap | str | Path | None = None, pixels: PixelMode | str | None = None,
                 unmapped: Unmapped | str | None = None, options: Iterable[str | Option] = (),
                 overrides: Iterable[str] = (), documents: DocumentPolicy | str | None = None) -> None:
        if isinstance(profile, Profile):
            if tuple(options) or tuple(overrides) or documents is not None:
                loaded = replace(profile, options=profile.options | {Option.parse(o) for o in options},
                                 overrides={**profile.overrides, **dict(parse_override(o) for o in overrides)},
                                 documents=DocumentPolicy.parse(documents) if documents is not None
                                 else profile.documents)
            else:
                loaded = profile
        else:
            loaded = load_profile(profile, extra_options=options, overrides=[parse_override(o) for o in overrides],
                                  documents=documents)
        mode = _pixel_mode(pixels)
        smap = self._subject_map(loaded, subject_map, unmapped)
        self.key_path: Path | None = None
        self.key_created = False
        if isinstance(key, SecretKey):
            secret = key
        elif key is None:
            secret, self.key_path, self.key_created = load_or_create_secret_key(None)
        else:
            self.key_path = Path(key)
            secret = load_secret_key(self.key_path)
        self.engine, self.warnings = build_engine(loaded, secret, pixels=mode, subject_map=smap)
        for note in self.warnings:
            _warnings.warn(note, DeidWarning, stacklevel=2)

    @staticmethod
    def _subject_map(profile: Profile, given: SubjectMap | str | Path | None,
                     unmapped: Unmapped | str | None) -> SubjectMap | None:
        if isinstance(given, SubjectMap):
            smap: SubjectMap | None = given
        elif given is not None:
            smap = load_subject_map(given)
        elif profile.subject_map is not None:
            smap = load_subject_map(profile.subject_map, unmapped=profile.unmapped or Unmapped.ERROR)
        else:
            smap = None
        if unmapped is not None:
            if smap is None:
                raise ConfigError("--unmapped needs a subject map (--subject-map FILE.csv, or [subjects] in the "
                                  "profile)")
            smap = smap.with_unmapped(unmapped)
        return smap

    @property
    def profile(self) -> Profile:
        return self.engine.profile

    @property
    def key_dir(self) -> Path:
        """Where the signing key, the local custodian pair and default mapping files live."""
        return self.key_path.parent if self.key_path is not None else default_key_dir()

    def dataset(self, ds: Dataset) -> Deidentified:
        """De-identify one instance held in memory; ``ds`` is not modified.

        Returns the new dataset and what changed (``.changes``: attribute path -> action);
        ``.links`` hold the original -> replacement pairs (originals: keep them input-side).
        Raises a :class:`~dicom_deid.errors.DeidError` when the instance cannot be de-identified
        (an unmapped patient, an encapsulated document the policy withholds, pixels that cannot
        be examined ...)."""
        for keyword in ("SOPClassUID", "SOPInstanceUID"):
            if not ds.get(keyword):
                raise UnreadableDicomError(f"dataset has no {keyword}: not a storable DICOM instance")
        # a deep copy: the output starts from the source's elements and changes some in place
        # (marking, file meta, redacted pixels); the caller's dataset must never be the one marked
        source = copy.deepcopy(ds)
        meta = getattr(source, "file_meta", None)
        if meta is None or "TransferSyntaxUID" not in meta:
            source.file_meta = FileMetaDataset(meta) if meta is not None else FileMetaDataset()
            source.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        return deidentify(source, self.engine)

    def file(self, path_in: str | Path, path_out: str | Path) -> Deidentified:
        """De-identify one file into ``path_out`` (written atomically, never over another file).

        No manifest, quarantine or sealed mapping: the result's ``.links`` are the caller's to
        keep.  Raises a :class:`~dicom_deid.errors.DeidError` naming the file when it cannot be
        fully de-identified; nothing is written then."""
        source, target = Path(path_in), Path(path_out)
        if target.resolve() == source.resolve():
            raise ConfigError("output file must differ from the input (input is never modified)", path=target)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise UnreadableDicomError(f"cannot read file ({exc.strerror or exc})", path=source) from None
        instance = parse_instance(data, where=str(source), memo=self.engine.decode_memo)
        try:
            result = deidentify(instance.dataset, self.engine)
        except DeidError as exc:
            if exc.path is None:  # name the file, as the batch does
                exc.path = str(source)
                exc.args = (f"{source}: {exc.message}",)
            raise
        write_output(target, encode_dataset(result.dataset, result.dataset.file_meta, memo=self.engine.encode_memo))
        return result

    def run(self, input: str | Path, output: str | Path, *, workers: int = 1, recipient: str | Path | None = None,
            mapping: str | Path | None = None, quarantine: str | Path | None = None, dry_run: bool = False,
            sample: int | None = None, dask: str | None = None, force: bool = False,
            file_time_limit: float | None = None, manifest: str | Path | None = None,
            keep_free: int | None = None, on_event: Callable[[Event], None] | None = None,
            warn: Callable[[str], None] | None = None) -> RunSummary:
        """De-identify a folder, DICOMDIR media folder, zip export or file into ``output``.

        The same batch as ``dicom-deid run``: every input accounted for in
        ``output/dicom-deid-manifest.jsonl``, what cannot be fully handled quarantined in
        ``OUTPUT.quarantine``, every link sealed to ``recipient`` (a custodian ``.pub``; None: a
        local custodian pair, with a ``warn``), resumable.  Returns the run summary."""
        config = RunConfig(
            input=input_root(Path(input)), output=Path(output), quarantine=_path(quarantine), dry_run=dry_run,
            workers=workers, recipient=_path(recipient), mapping=_path(mapping), sample=sample, dask=dask,
            force=force, file_cpu_limit=file_time_limit, manifest=_path(manifest), keep_free=keep_free)
        return self.run_config(config, on_event=on_event, warn=warn)

    def run_config(self, config: RunConfig, *, on_event: Callable[[Event], None] | None = None,
                   warn: Callable[[str], None] | None = None, run_id: str | None = None) -> RunSummary:
        """:meth:`run` for a shell that built (and validated) its :class:`RunConfig` already."""
        from dicom_deid.seal import prepare_run_mapping

        config.validate()
        refuse_keys_inside_input(config, self.key_dir, creates_key=False)
        run_id = run_id or uuid.uuid4().hex
        mapping = None
        if not config.dry_run:
            config.output.mkdir(parents=True, exist_ok=True)  # fails here, before a mapping exists
            mapping = prepare_run_mapping(
                recipient=config.recipient, mapping=config.mapping, output_dir=config.output, key_dir=self.key_dir,
                run_id=run_id, run_info=self.run_info(), warn=warn or _warn)
        summary = run_batch(config, self.engine, mapping=mapping, on_event=on_event, run_id=run_id,
                            warnings=self.warnings)
        if mapping is not None and mapping.created:
            summary = replace(summary, mapping=mapping.path)
        return summary

    def run_info(self, **extra: object) -> dict[str, object]:
        """What the sealed mapping records about the engine (no values, no paths)."""
        profile = self.engine.profile
        info: dict[str, object] = {"profile": profile.name, "options": sorted(o.value for o in profile.options)}
        smap = self.engine.subject_map
        if smap is not None:
            info["subject_map"] = {"sha256": smap.sha256, "subjects": len(smap.subjects),
                                   "unmapped": smap.unmapped.value}
        info.update(extra)
        return info

    def __repr__(self) -> str:
        smap = self.engine.subject_map
        return (f"Deidentifier(profile={self.engine.profile.name!r}, key={self.engine.key!r}, "
                f"pixels={self.engine.pixels.value!r}, subject_map={smap.source if smap else None!r})")


def refuse_keys_inside_input(config: RunConfig, key_dir: Path, *, creates_key: bool) -> None:
    """Refuse a run that would write a key, the custodian pair or the mapping inside its input
    folder (the input is never modified).  ``creates_key``: the secret key does not exist yet."""
    writes = creates_key or (not config.dry_run and (config.recipient is None or config.mapping is None))
    inp = config.input.resolve()
    if writes and inp.is_dir() and key_dir.resolve().is_relative_to(inp):
        raise ConfigError("key folder (where the run writes the secret key, the custodian pair and the mapping) is "
                          "inside the input folder; keep keys elsewhere (--key-file, DICOM_DEID_HOME)", path=key_dir)


def _pixel_mode(value: PixelMode | str | None) -> PixelMode | None:
    if value is None or isinstance(value, PixelMode):
        return value
    try:
        return PixelMode(str(value).strip().lower())
    except ValueError:
        raise ConfigError(f"pixels must be auto, all or off, got {value!r}") from None


def _path(value: str | Path | None) -> Path | None:
    return Path(value) if value is not None else None


def _warn(message: str) -> None:
    _warnings.warn(message, DeidWarning, stacklevel=3)


__all__ = ["DeidWarning", "Deidentifier", "build_engine", "check_ocr_installed", "pixel_warnings",
           "refuse_keys_inside_input"]
