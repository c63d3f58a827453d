"""Alias of :mod:`arch_zoo.library` (library-built training nets), kept for code and snapshots that import
``arch_zoo.library_nets``; new code imports :mod:`arch_zoo.library`."""

from .library import FAMILIES, LIBRARY_STREAMS, Family, LibraryConfig, LibrarySpec, count_params, sample_library

__all__ = ["LibrarySpec", "LibraryConfig", "FAMILIES", "LIBRARY_STREAMS", "sample_library", "count_params", "Family"]
