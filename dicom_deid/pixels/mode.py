"""``--pixels`` as the rest of the package sees it: the mode, and the one check of a profile
against it.  Light on purpose (no numpy, no OCR, no codecs): a ``--pixels off`` run, the CLI and
the API import this, never the pixel stage itself (``stage.py`` re-exports both names)."""

from __future__ import annotations

import enum

from dicom_deid.errors import ConfigError
from dicom_deid.profiles import Option, Profile


class PixelMode(enum.Enum):
    """``--pixels``: ``auto`` samples each series first, ``all`` searches every image, ``off`` none."""

    AUTO = "auto"
    ALL = "all"
    OFF = "off"


def check_pixel_options(profile: Profile, mode: PixelMode | str) -> None:
    """Refuse an option the run could not carry out: faces need the pixel stage."""
    if PixelMode(mode) is PixelMode.OFF and Option.CLEAN_RECOGNIZABLE_VISUAL_FEATURES in profile.options:
        raise ConfigError(
            "--option clean-recognizable-visual-features needs the pixel stage (faces are found in "
            "the pixels): it cannot run with --pixels off"
        )


__all__ = ["PixelMode", "check_pixel_options"]
