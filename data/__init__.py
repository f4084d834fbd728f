"""Bundled data: the 2024 guide catalogue built from the call text, and the demo batch generator."""
