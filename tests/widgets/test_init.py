"""bz.widgets loads lazily: no ipywidgets nor plotly until a widget is asked for."""

from __future__ import annotations


def test_import_batteryzoom_widgets_is_lazy():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, batteryzoom as bz; import batteryzoom.widgets; "
            "assert 'ipywidgets' not in sys.modules and 'plotly' not in sys.modules")
    import os

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "toolkit")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
