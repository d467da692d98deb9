"""``--pixels``: the pixel mode, on its own so that choosing ``off`` loads none of the pixel stage."""

from __future__ import annotations

import enum


class PixelMode(enum.Enum):
    """``--pixels``: ``auto`` decides per instance, ``all`` searches every image, ``off`` none."""

    AUTO = "auto"
    ALL = "all"
    OFF = "off"


__all__ = ["PixelMode"]
