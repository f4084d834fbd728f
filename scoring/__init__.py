"""From scores to decisions: calibration, aggregation, uncertainty and budgeted selection.

Everything here is a pure function over plain data; nothing in this package opens a database
session.
"""
