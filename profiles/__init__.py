"""Data package: generated PS3.15 tables and named profiles (see README.md)."""
