"""The package version (kept with Grove's own, GroveVersion.string)."""

__version__ = "0.1.0"
