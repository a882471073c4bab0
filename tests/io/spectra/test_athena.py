"""io/spectra/athena.py: Athena's Perl project statements, parsed without Perl."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from batteryzoom.errors import FileFormatError
from batteryzoom.io.spectra.athena import group_names, parse_athena

P = Path("project.prj")
HEAD = "# Athena project file -- Demeter version 0.9.21\n# a comment\n\n"
GROUP = ("$old_group = '{key}';\n@args = ('label','{label}','titles',['a','b\\'c'],'bkg_e0',8333.5,'is_xmu',1);\n"
         "@x = ('8300','8301.5','8303');\n@y = ('0.1','0.2','0.3');\n@i0 = ('5','5','5');\n"
         "$xdi = bless( {{'a' => 1}}, 'Xray::XDI' );\n[record]   # create object\n\n")


def _project(*groups, end="1;\n\n# Local Variables:\n") -> str:
    return HEAD + "".join(GROUP.format(key=k, label=lab) for k, lab in groups) + end


def test_groups_keys_arrays_and_parameters():
    groups, version = parse_athena(P, _project(("abcd", "Ni foil"), ("efgh", "  Ref Ni foil")))
    assert version == "Athena project file -- Demeter version 0.9.21"
    assert [g.label for g in groups] == ["Ni foil", "Ref Ni foil"] and [g.key for g in groups] == ["abcd", "efgh"]
    np.testing.assert_array_equal(groups[0].arrays["x"], [8300, 8301.5, 8303])
    assert groups[0].params["titles"] == ["a", "b'c"] and float(groups[0].params["bkg_e0"]) == 8333.5
    assert group_names(groups) == ["Ni foil", "Ref Ni foil"]
    twice, _ = parse_athena(P, _project(("abcd", "scan"), ("efgh", "scan")))
    assert group_names(twice) == ["scan [abcd]", "scan [efgh]"]


def test_damaged_projects_are_refused_naming_the_group():
    with pytest.raises(FileFormatError, match="without its closing '1;' after 1 group"):
        parse_athena(P, _project(("abcd", "a"), end=""))
    with pytest.raises(FileFormatError, match="@x has 3 values but @y 2"):
        parse_athena(P, _project(("abcd", "a")).replace("'0.2',", ""))
    with pytest.raises(FileFormatError, match=r"group 1 'a', @y \(line 7\) holds '0\.2x', not a number"):
        parse_athena(P, _project(("abcd", "a")).replace("'0.2'", "'0.2x'"))
    with pytest.raises(FileFormatError, match="line 7 .@y. is cut short"):
        parse_athena(P, _project(("abcd", "a")).replace("'0.3');", "'0.3'"))
    with pytest.raises(FileFormatError, match="is not a Perl statement"):
        parse_athena(P, _project(("abcd", "a")).replace("@y =", "y ="))
    with pytest.raises(FileFormatError, match="not an Athena project"):
        parse_athena(P, "# just text\n1;\n")
