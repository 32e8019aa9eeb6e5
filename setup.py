"""The compiled parts: the CMEP triplet reader (meters/reads/interfaces/_cmepscan.c) and the spool's
run-wise gather (meters/reads/_cruns.c).

Everything else is in pyproject.toml. Both extensions are optional: without a C compiler the
install goes on, and meters.reads.interfaces.cmep and meters.reads.runs do the same work with
numpy, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meters.reads.interfaces._cmepscan",
            sources=["meters/reads/interfaces/_cmepscan.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        ),
        Extension(
            "meters.reads._cruns",
            sources=["meters/reads/_cruns.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        ),
    ]
)
