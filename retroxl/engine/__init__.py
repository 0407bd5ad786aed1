"""The semantics of a retrospective: numbers, metrics, periods, working days.

Pure Python, standard library only (plus the holiday calendar), no Excel and no
I/O, so the same code runs in the CLI, behind the add-in and under Pyodide.
"""
