"""(a) The profile's action for one element, PS3.15 Table E.1-1a resolution, and the profile to
check against (given, or named by the manifest header)."""

from __future__ import annotations

from pathlib import Path

from dicom_deid.manifest import MANIFEST_NAME, read_manifest
from dicom_deid.profiles import (
    ActionCode,
    AttributeRule,
    Option,
    OverrideAction,
    Profile,
    Standard,
    list_profiles,
    load_profile,
)

_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UT", "UC"})


def _profile_code(std: Standard, profile: Profile, tag: int, vr: str, keyword: str, value: str,
                  creator: str | None) -> tuple[ActionCode, str] | None:
    """The profile's (possibly combined) code for one element; None when it is simply kept."""
    group, element = tag >> 16, tag & 0xFFFF
    override = profile.overrides.get(tag)
    if override is not None:
        code = {OverrideAction.REMOVE: ActionCode.X, OverrideAction.EMPTY: ActionCode.Z}.get(override.action)
        return (code, f"override {override.action.value}") if code else None
    if element == 0 and group > 2:
        return None  # group length: not identifying
    if group & 0xFF00 == 0x6000 and not group & 1:
        return _overlay_code(std, profile, tag, vr)
    if group & 1:
        rule_id = f"{std.private_rule.rule_id} (private)"
        if Option.RETAIN_SAFE_PRIVATE not in profile.options:
            return ActionCode.X, rule_id
        if 0x10 <= element <= 0xFF:
            return None if std.has_safe_private_creator(group, value) else (ActionCode.X, rule_id)
        if element >= 0x1000 and creator and std.is_safe_private(group, creator, element & 0xFF):
            return None
        return ActionCode.X, f"{rule_id}, not in E.3.10-1"
    rule: AttributeRule | None = std.rule_for(tag)
    if rule is None:
        if not keyword:
            return ActionCode.X, "unknown public attribute"
        rule = std.vr_rules.get(vr)
        if rule is None:
            return None
    code, rule_id = rule.action_for(profile.options)
    if code in (ActionCode.U, ActionCode.X_Z_U) and vr == "UI" and std.keeps_uid(keyword, value):
        return None
    return None if code is ActionCode.K else (code, rule_id)


def _overlay_code(std: Standard, profile: Profile, tag: int, vr: str) -> tuple[ActionCode, str] | None:
    """One overlay plane (a 60xx group) is one unit: Overlay Data (60xx,3000) is X in every
    profile and option (a bitmap cannot be cleaned), and its plane goes with it; only an override
    that keeps the Overlay Data keeps the plane, and then its text must be clean (C)."""
    data = profile.overrides.get((tag & 0xFFFF0000) | 0x3000)
    if data is None or data.action is not OverrideAction.KEEP:
        rule = std.overlay_rules[0x3000].rule_id if 0x3000 in std.overlay_rules else "Overlay Data"
        return ActionCode.X, f"{rule} Overlay Data X: the whole overlay plane"
    return (ActionCode.C, "overlay kept by override: text cleaned") if vr in _TEXT_VRS else None


def _resolve(code: ActionCode, attr_type: str) -> ActionCode | None:
    """PS3.15 Table E.1-1a from the PS3.3 type; None where the check cannot be decided."""
    if not code.is_combined:
        return code
    required, present = attr_type in ("1", "1C"), attr_type in ("2", "2C")
    if required:
        return None  # D or U: any replacement is allowed
    if present:
        return None if code is ActionCode.X_D else ActionCode.Z
    return ActionCode.Z if code is ActionCode.Z_D else ActionCode.X


def resolve_profile(output: Path, profile: Profile | None) -> tuple[Profile, list[str]]:
    """The profile to check against: given, else the one the manifest header names."""
    notes: list[str] = []
    if profile is not None:
        return profile, notes
    manifest = output / MANIFEST_NAME
    header = next((r for r in read_manifest(manifest) if r.get("type") == "run"), None) if manifest.is_file() else None
    if header is None:
        notes.append("no manifest header: checked against the basic profile")
        return load_profile("basic"), notes
    name = str(header.get("profile", "basic"))
    options = frozenset(Option.parse(o) for o in header.get("options", []))
    if name in list_profiles():
        base = load_profile(name)
        return Profile(base.name, base.description, options, base.overrides, base.date_method,
                       base.age_cap_years, base.pixel_mode, base.source), notes
    notes.append(f"profile {name!r} from the manifest is not built in: its options are checked, its "
                 "per-tag overrides are not (pass --profile FILE.toml)")
    return Profile(name, "", options), notes
