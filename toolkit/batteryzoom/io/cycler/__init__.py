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
values; whether a column counts per step, per cycle (Arbin, PEC) or over the test
(BioLogic's ``(Q-Qo)``) is read from the data, not assumed (``attrs["capacity_scope"]``),
and the result is checked against the integral of the current (``attrs["capacity_check"]``;
more than 2 % apart is a :class:`CyclerDataWarning`). Where a file has no count they are
integrated from current and voltage over time (trapezoid) and ``attrs["derived"]`` says so.

``attrs`` holds the source's metadata and what was checked: ``source_path``, ``format``,
``reader``, ``source_units`` (the units read from the headers), ``time`` (how each time
column's unit was found), ``time_repairs`` and ``repairs`` (what was fixed, left out or
found wrong: each is also a warning), ``notes`` and ``derived`` (what was read or computed,
no warning), ``record_counter`` (whether the file numbers its records), ``capacity_scope``,
``capacity_check``, ``flagged_columns`` (columns kept as read because their unit is
unknown, or dropped as implausible), ``empty_columns`` and ``metadata``.

Time is never silently kept wrong: a step time that restarts at every step is accumulated
into a test time, a test time that jumps backwards is made continuous (each backward
jump is replaced by the median sampling interval), a time column whose unit the header
does not give takes it from the wall clock (Maccor's bare ``TestTime`` is in minutes), dates
in a time column are counted from the first; each repair is listed in
``attrs["time_repairs"]`` and announced with a :class:`TimeRepairWarning`.

Damage: every reader turns a damaged file into a
:class:`~batteryzoom.errors.FileFormatError` naming the file, the problem and the fix, or
into the clean file's table with a :class:`CyclerDataWarning` saying what was left out
(damaged lines, records missing or repeated by the file's own counter). Values outside
:data:`LIMITS` (voltage, current, time span; temperature and wall clock are left out
instead) refuse the file unless ``read_cycler(..., limits=...)`` says they are real.

Supported makes and variants
----------------------------
``format=`` names, what in the content identifies each (the sniffer's evidence: a *sure*
marker of the make, or column names alone, marked "names"), the module that reads it,
and its rank (the sniffing order; two makes matching as surely, or on names alone, is an
error listing both):

======================= ================================================== =============== ====
``format=``             file and header variant (what the sniffer matches) module          rank
======================= ================================================== =============== ====
``neware-ndax``         BTS 8+ binary, ndc versions 2-17: a zip holding    ``neware``      10
                        ``.ndc`` members; fastnda, NewareNDA as fallback
``neware-nda``          BTS 7/9 binary (.nda v8-v130): ``NEWARE`` magic,   ``neware``      10
                        or a zip holding one ``.nda`` (read from a
                        temporary copy of the member)
``biologic-mpr``        EC-Lab binary: ``BIO-LOGIC MODULAR FILE`` magic    ``biologic``    10
                        (galvani, extra ``gpl``); OCV technique read as
                        I = 0
``arbin-res``           MS Access ``.res`` (Jet/ACE magic), ``mdb-export`` ``arbin``       10
                        bounded in time and output, stderr read; aux
                        temperature from ``Auxiliary_Table``
``pyprobe-parquet``     parquet with ``Time [s]`` and ``Voltage [V]``      ``pyprobe``     10
                        (no ``test_time_second``)
``indigo-h5``           HDF5 pandas store with ``time_series_data``        ``indigo``      10
                        (read with h5py, shapes checked)
``bdf-parquet``         any other parquet (BDF machine names or labels)    ``bdf``         15
``arbin-xlsx``          workbook with ``Channel_*`` or ``Global_Info``     ``arbin``       20
                        sheets
``biologic-mpt``        EC-Lab / BT-Lab text: ``EC-Lab ASCII FILE`` or     ``biologic``    20
                        ``BT-Lab ASCII FILE`` with ``Nb header lines``,
                        or (names) EC-Lab column names on line 1 (the
                        header block cut off); dates in ``time/s``,
                        decimal commas
``novonix-csv``         ``[Summary]`` naming Novonix; ``[Data]`` lines     ``novonix``     20
                        plain or each wrapped in quotes; JSON or
                        bracketed ``[Protocol]``
``basytec-txt``         ``~Resultfile from Basytec`` first line; the last  ``basytec``     20
                        ``~`` line holds the column names
``pec-csv``             ``Request Year:``/``Test:`` preamble; mV/mA with   ``pec``         20
                        seconds, or V/A with ``hh:mm:ss.xxx`` clocks
``maccor-txt``          a ``Rec``/``Cyc#``/``Amps``/``Volts`` header (or   ``maccor``      30
                        ``Cycle C``/``Current``/``Voltage``) in the first
                        40 lines after any preamble (``Today's Date``,
                        ``Name:``); tab or comma; clocks, ``(Sec)`` or a
                        bare ``TestTime`` (unit from the wall clock);
                        ``Amps`` signed by ``State``/``Md``; FRA rows are
                        impedance rows
``maccor-eis``          ``MACCOR, INC. AC Impedance Test`` first line:     ``maccor``      30
                        recognised and refused (an EIS sweep, not a
                        cycling record)
``neware-btsda-3level`` BTSDA "regular" export: ``Cycle ID`` header,       ``neware``      40
                        ``Record ID`` on the third line; summary rows
                        above or below their records
``neware-btsda``        BTSDA flat export: (names) CSV header with         ``neware``      50
                        ``DataPoint`` and ``Step Type``, or a workbook
                        with ``record``/``detail``/``step``/``cycle``
                        sheets; units in the headers (A/mA/µA, V/mV,
                        Ah/mAh/mAs, Wh/mWh/mWs), ``h:mm:ss.ms`` clocks
``bdf-csv``             BDF machine names (``test_time_second``,           ``bdf``         60
                        ``voltage_volt``) or preferred labels
                        (``Test Time / h``, ``Voltage / V``)
``arbin-csv``           ``Test_Time(s)`` with ``Step_Index``, or (names)   ``arbin``       70
                        Arbin's column names without units (the
                        database's: s, A, V, Ah, Wh) or with them
                        (``Current (A)``); BOM, tabs before dates;
                        ``<name>_Metadata.csv`` beside it read too
``csv``                 any text table with one separator count per        ``generic_csv`` 90
                        line (``,``, tab, ``;``): columns by name, the
                        unit in the header or the cells, or
                        ``column_map=``
``xlsx``                any other workbook (as ``csv``)                    ``generic_csv`` 90
======================= ================================================== =============== ====

Layout (as xarray's ``backends/``): ``_registry`` (how a format registers: its name, what
it matches, its reader, its rank), ``sniff`` (:func:`detect_format`), one module per make
(above), ``finalize`` (the shared last stage: checks, steps, time repairs, current sign,
step types, cycles) with ``_checks`` (records, limits, time units, capacity scope) and
``_capacity`` (stage 7), ``api`` (:func:`read_cycler`), and the shared reading of files
(``_source``: regular files only, bounded reads, decoding), delimited text (``_text``:
every line accounted for), plain tables (``_tables``: Excel and parquet, columns by name)
and units (``_units``). A new reader is a module that calls ``_registry.register(...)``,
listed in ``_registry._READER_MODULES``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
