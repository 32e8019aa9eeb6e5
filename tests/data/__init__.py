"""The tests' data: the project's own sample set (generate.py) and public files (public/)."""
