"""The package version, in a module of its own so that any module can import it without
importing the package's front door (``dicom_deid/__init__.py`` imports the API)."""

__version__ = "0.1.0"
