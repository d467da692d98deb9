"""What a profile file may hold: ``profiles/profile.schema.json`` (JSON Schema), checked with jsonschema.

``profiles.load_profile`` validates every profile (named or a file) here before reading it, so a
misspelt key or option name is an error listing the valid ones instead of being ignored.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


@functools.lru_cache(maxsize=1)
def profile_schema() -> Mapping[str, Any]:
    """The JSON Schema every profile file is validated against (``profiles/profile.schema.json``)."""
    schema: dict[str, Any] = json.loads(importlib.resources.files("dicom_deid._profiles").joinpath("profile.schema.json").read_text(encoding="utf-8"))
    return MappingProxyType(schema)


def schema_problem(raw: Mapping[str, Any]) -> str | None:
    """The first way ``raw`` breaks the schema, as one line naming the key and the valid choices."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(dict(profile_schema()))
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(raw)))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path if not isinstance(p, int))
    at = f"[{where}] " if where and error.validator == "additionalProperties" else f"{where}: " if where else ""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in known)
        if known:
            return f"{at}unknown key {unknown[0]!r}; valid keys: {', '.join(known)}"
        return f"{at}{error.message}"
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        if where == "options":
            return f"unknown option {error.instance!r}; choose from: {choices}"
        return f"{at}{error.instance!r} is not valid; choose from: {choices}"
    if where.startswith("overrides.") and error.validator in ("anyOf", "type", "required"):
        return (f"override {where[len('overrides.'):]!r}: give \"keep\", \"remove\", \"empty\" or "
                "{ action = \"replace\", value = \"...\" }")
    return f"{at}{error.message}"


__all__ = ["profile_schema", "schema_problem"]
