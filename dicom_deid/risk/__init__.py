"""Re-identification risk of a de-identified release: k-anonymity, l-diversity, t-closeness, ARX's
attacker models, k-anonymity enforcement and the Safe Harbor / GDPR evidence pack.

Data flow: ``records`` (output headers -> one row per patient) -> ``metrics`` (assessment) and
``enforce`` (a Generalisation) -> ``rewrite`` (post-pass over OUTPUT) -> ``evidence`` (Safe Harbor
table, GDPR note) -> ``report.py``.  ``assessment`` is the I/O shell; the tables are data
(``quasi_identifiers.toml``, ``safe_harbor.toml``).
"""

from __future__ import annotations

from dicom_deid.risk.assessment import RiskReport, assess_output, enforce_output, read_context
from dicom_deid.risk.enforce import Generalisation, plan_k_anonymity
from dicom_deid.risk.errors import RiskError
from dicom_deid.risk.metrics import AttackerRisk, RiskAssessment, SmallClass, assess, records_frame

__all__ = ["AttackerRisk", "Generalisation", "RiskAssessment", "RiskError", "RiskReport", "SmallClass",
           "assess", "assess_output", "enforce_output", "plan_k_anonymity", "read_context", "records_frame"]
