"""Moved to :mod:`batteryzoom.regions.selection` (``bz.regions.RegionLookup``,
``bz.regions.RegionSummary``); this alias stays until the report imports them from there."""

from .regions.selection import RegionLookup, RegionSummary

__all__ = ["RegionLookup", "RegionSummary"]
