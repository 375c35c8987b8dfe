"""Distributed mode: the pipeline as procrastinate jobs on the PostgreSQL catalog, one queue per stage.

In: settings with a `postgresql://` catalog.  Out: jobs (`tasks.py`), a worker (`worker.py`), the run/wait and
status reads (`control.py`). SQLite catalogs never come here: the single-process runner stays theirs.
"""
