"""Who reviews what: eligibility screening, conflicts, affinity and assignment solvers.

Everything here is a pure function over plain data (frames, arrays, frozen dataclasses);
nothing in this package opens a database session.
"""
