"""bz.xanes.stack: the energy list checks shared by the stack functions."""

from __future__ import annotations

import pytest

from batteryzoom.errors import InputError


def test_stack_functions_reject_bad_energy_lists():
    from batteryzoom.xanes.stack import check_energy

    with pytest.raises(InputError, match="repeated"):
        check_energy([8300, 8301, 8301])
    with pytest.raises(InputError, match="decreasing"):
        check_energy([8300, 8302, 8301])
    with pytest.raises(InputError, match="3 frames .* 2 values"):
        check_energy([8300, 8301], 3)
