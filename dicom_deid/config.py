"""RunConfig: every choice of a batch run besides the engine, built once at the edge and validated.

The engine (profile, key, pixel mode, subject map) is described by ``deidentify.Engine``; this is
where a run reads and writes and how it schedules the work.  Every field is read: by
``pipeline.run`` (folders, workers, resume, limits) or by ``api.Deidentifier.run`` (the sealed
mapping's recipient and file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dicom_deid.errors import ConfigError
from dicom_deid.lock import LOCK_NAME
from dicom_deid.manifest import MANIFEST_NAME


@dataclass(frozen=True)
class RunConfig:
    input: Path
    output: Path
    quarantine: Path | None = None  # default: <OUTPUT>.quarantine (input side, never inside OUTPUT)
    dry_run: bool = False
    workers: int = 1
    recipient: Path | None = None  # custodian public key the mapping is sealed to (None: a local pair)
    mapping: Path | None = None  # sealed mapping file (None: under the key folder)
    sample: int | None = None  # --dry-run: only the first N studies
    dask: str | None = None  # scheduler address: run the per-file work on a Dask cluster
    force: bool = False  # redo inputs a previous run of the same command already completed
    file_cpu_limit: float | None = None  # kill (and quarantine) a file's work after this many CPU seconds
    manifest: Path | None = None  # where the manifest goes (default OUTPUT/...; a dry run writes none unless set)
    # bytes kept free on OUTPUT's file system for the manifest and its summary: the run stops (resumable)
    # before writing an output into them; None = 2% of the file system, 512 KiB to 16 MiB; 0 = no check
    keep_free: int | None = None

    @property
    def quarantine_dir(self) -> Path:
        return self.quarantine or self.output.with_name(self.output.name + ".quarantine")

    def validate(self) -> None:
        inp, out = self.input.resolve(), self.output.resolve()
        if not self.input.exists():
            raise ConfigError("input does not exist", path=self.input)
        if out == inp:
            raise ConfigError("output folder must differ from the input (input is never modified)", path=self.output)
        if inp.is_dir() and out.is_relative_to(inp):
            raise ConfigError("output folder is inside the input folder; choose a folder outside it", path=self.output)
        if out.exists() and not out.is_dir():
            raise ConfigError("output exists and is not a folder", path=self.output)
        q = self.quarantine_dir.resolve()
        if q.is_relative_to(out):
            raise ConfigError("quarantine folder must not be inside the output folder (it holds originals)", path=q)
        if inp.is_dir() and q.is_relative_to(inp):
            raise ConfigError("quarantine folder must not be inside the input folder", path=q)
        if self.recipient is not None and self.recipient.resolve().is_relative_to(out):
            raise ConfigError("the custodian's key folder must not be inside the output folder (its private key "
                              "would travel with the de-identified data)", path=self.recipient)
        if self.mapping is not None and inp.is_dir() and self.mapping.resolve().is_relative_to(inp):
            raise ConfigError("mapping file must not be inside the input folder (input is never modified, and "
                              "the next run would read it as an input)", path=self.mapping)
        if not self.dry_run and out.is_dir() and _foreign_files(out):
            raise ConfigError("output folder holds files that no dicom-deid run wrote (they would travel with the "
                              "research set); choose an empty or new folder", path=self.output)
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.keep_free is not None and self.keep_free < 0:
            raise ConfigError(f"keep_free must be at least 0 bytes, got {self.keep_free}")
        if self.file_cpu_limit is not None and self.file_cpu_limit <= 0:
            raise ConfigError(f"--file-time-limit must be positive, got {self.file_cpu_limit}")
        if self.sample is not None and not self.dry_run:
            raise ConfigError("--sample only applies with --dry-run")
        if self.sample is not None and self.sample < 1:
            raise ConfigError(f"--sample must be at least 1, got {self.sample}")


def _foreign_files(out: Path) -> bool:
    """True when ``out`` is neither empty nor the output of an earlier run (its manifest or lock)."""
    names = {p.name for p in out.iterdir()}
    return bool(names) and not ({MANIFEST_NAME, LOCK_NAME} & names)


__all__ = ["RunConfig"]
