"""Helpers of ``scripts/make_sample_data.py`` (imported by it; not an installed package).

``identities`` (fake patients), ``templates`` (bundled pydicom files stripped of identity),
``records`` (the reference table of planted values), ``builders`` (instances with planted PHI),
``export`` (PACS folder layout, zip, DICOMDIR media) and ``bad_inputs``.
"""
