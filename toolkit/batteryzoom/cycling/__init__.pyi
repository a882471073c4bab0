# The public names of batteryzoom.cycling and the module each lives in (read by lazy_loader).
from .curves import dqdv as dqdv
from .curves import dvdq as dvdq
from .curves import find_dqdv_peaks as find_dqdv_peaks
from .curves import vq_curves as vq_curves
from .population import robust_zscore as robust_zscore
from .population import screen_population as screen_population
from .qc import CyclerQC as CyclerQC
from .qc import cycler_qc as cycler_qc
from .record import RecordAnalysis as RecordAnalysis
from .record import analyze_record as analyze_record
from .self_discharge import SelfDischargeResult as SelfDischargeResult
from .self_discharge import self_discharge as self_discharge
from .steps import find_rests as find_rests
from .steps import steps as steps
from .summary import cycle_summary as cycle_summary

__all__ = [
    "steps",
    "cycle_summary",
    "vq_curves",
    "dqdv",
    "dvdq",
    "find_dqdv_peaks",
    "find_rests",
    "self_discharge",
    "screen_population",
    "robust_zscore",
    "SelfDischargeResult",
    "cycler_qc",
    "CyclerQC",
    "analyze_record",
    "RecordAnalysis",
]
