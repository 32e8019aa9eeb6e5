"""The one compiled part: the CMEP triplet reader (meters/interfaces/_cmepscan.c).

Everything else is in pyproject.toml. The extension is optional: without a C compiler the
install goes on and meters.interfaces.cmep reads the same triplets with numpy, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meters.interfaces._cmepscan",
            sources=["meters/interfaces/_cmepscan.c"],
            extra_compile_args=["-O2", "-Wall"],
            optional=True,
        )
    ]
)
