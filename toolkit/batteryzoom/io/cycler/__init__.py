"""Cycler files of every common make -> one Battery Data Format (BDF) table.

:func:`read_cycler` sniffs the format from the file's content (:func:`detect_format`),
reads it with the best maintained reader, and returns one :class:`pandas.DataFrame` with
BDF column names and SI units:

===========================  =========  ===============================================
column                       dtype      meaning
===========================  =========  ===============================================
``test_time_second``         float64    time since the start of the test (s), never decreasing
``step_time_second``         float64    time since the start of the step (s)
``voltage_volt``             float64    cell voltage (V)
``current_ampere``           float64    current (A), **positive on charge**
``step_count``               int64      1, 2, ... incremented at every step change
``step_index``               int64      the program's step number (repeats across cycles)
``cycle_count``              int64      1, 2, ... (a cycle starts with a charge after a discharge)
``step_type``                category   ``rest``, ``cc_charge``, ``cv_charge``, ``cc_discharge``,
                                        ``cv_discharge``, ``other`` (per row: a CCCV step's
                                        rows are split into their CC and CV parts)
``charging_capacity_ah``     float64    charge passed in the step so far (Ah, >= 0; 0 outside
                                        charge steps)
``discharging_capacity_ah``  float64    same for discharge (Ah, >= 0)
``charging_energy_wh``       float64    energy in on charge in the step so far (Wh, >= 0)
``discharging_energy_wh``    float64    energy out on discharge in the step so far (Wh, >= 0)
``unix_time_second``         float64    wall-clock time (s since 1970, UTC), when the file has it
``temperature_celsius``      float64    first temperature channel, when the file has one
===========================  =========  ===============================================

Capacities and energies come from the instrument's own columns, converted to per-step
values (Arbin counts per cycle, BioLogic and PyProBE over the whole test); where a file has
none they are integrated from current and voltage over time (trapezoid) and
``attrs["derived"]`` says so.

``attrs`` holds the source's metadata: ``source_path``, ``format``, ``reader``,
``source_units`` (the units read from the headers), ``time_repairs`` and ``repairs`` (what
was fixed and how), ``derived`` and ``metadata`` (a few instrument fields).

Time is never silently kept wrong: a step time that restarts at every step is accumulated
into a test time, and a test time that jumps backwards is made continuous (each backward
jump is replaced by the median sampling interval); both are listed in
``attrs["time_repairs"]`` and announced with a :class:`TimeRepairWarning`.

Supported makes and variants
----------------------------
``format=`` names (``"auto"`` sniffs them, in the order of the last column's rank: the
first match wins), what in the content identifies each, and the module that reads it:

======================= ================================================== =============== ====
``format=``             file and header variant (what the sniffer matches) module          rank
======================= ================================================== =============== ====
``neware-ndax``         BTS 8+ binary: a zip holding ``.ndc`` members;     ``neware``      10
                        fastnda, NewareNDA as the fallback
``neware-nda``          BTS 7 binary: ``NEWARE`` magic bytes               ``neware``      10
``biologic-mpr``        EC-Lab binary: ``BIO-LOGIC MODULAR FILE`` magic    ``biologic``    10
                        (galvani, extra ``gpl``)
``arbin-res``           MS Access ``.res`` (Jet/ACE magic), ``mdb-export`` ``arbin``       10
``pyprobe-parquet``     parquet with ``Time [s]`` and ``Voltage [V]``      ``pyprobe``     10
                        (no ``test_time_second``)
``bdf-parquet``         any other parquet (BDF machine names or labels)    ``bdf``         15
``arbin-xlsx``          workbook with ``Channel_*`` or ``Global_Info``     ``arbin``       20
                        sheets
``biologic-mpt``        EC-Lab text: ``EC-Lab ASCII FILE`` first line or   ``biologic``    20
                        ``Nb header lines``
``maccor-txt``          text or raw ``.0NN``: a ``Rec#`` header line with  ``maccor``      30
                        ``Cyc#`` in the first 12 lines (after a
                        preamble); unsigned ``Amps`` signed by ``State``
``neware-btsda-3level`` BTSDA "regular" export: ``Cycle ID`` header,       ``neware``      40
                        ``Record ID`` on the third line
``neware-btsda``        BTSDA flat export: CSV header with ``DataPoint``   ``neware``      50
                        and ``Step Type``/``Step Index``, or a workbook
                        with ``record``/``detail``/``step``/``cycle``
                        sheets; units in the headers (A/mA/µA, V/mV,
                        Ah/mAh/mAs, Wh/mWh/mWs), ``h:mm:ss.ms`` clocks
``bdf-csv``             header with ``test_time_second`` or                ``bdf``         60
                        ``Test Time / s``
``arbin-csv``           header with ``Test_Time(s)`` and ``Step_Index``    ``arbin``       70
``csv``                 any text table with one separator count per        ``generic_csv`` 90
                        line (``,``, tab, ``;``): columns by name, the
                        unit in the header or the cells, or
                        ``column_map=``
``xlsx``                any other workbook (as ``csv``)                    ``generic_csv`` 90
======================= ================================================== =============== ====

Layout (as xarray's ``backends/``): ``_registry`` (how a format registers: its name, what
it matches, its reader, its rank), ``sniff`` (:func:`detect_format`), one module per make
(above), ``finalize`` (the shared last stage: steps, time repairs, current sign, step
types, cycles, capacities), ``api`` (:func:`read_cycler`), and the shared parsing of plain
tables (``_tables``: text and Excel tables, columns by name) and units (``_units``). A new
reader is a module that calls ``_registry.register(...)``, listed in
``_registry._READER_MODULES``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
