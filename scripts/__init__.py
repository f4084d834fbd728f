"""The ``reviewopt`` command line and scripts for scheduled jobs and benchmarks."""
