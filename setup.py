"""The compiled parts: the CMEP triplet reader (meters/interfaces/_cmepscan.c) and the spool's
run-wise gather (meters/_cruns.c).

Everything else is in pyproject.toml. Both extensions are optional: without a C compiler the
install goes on, and meters.interfaces.cmep and meters.runs do the same work with numpy, more
slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meters.interfaces._cmepscan",
            sources=["meters/interfaces/_cmepscan.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        ),
        Extension(
            "meters._cruns",
            sources=["meters/_cruns.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        ),
    ]
)
