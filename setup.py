"""Build script for the compiled allocator core.

Metadata lives in pyproject.toml; this file only declares the Cython
extension.  Set ``IPAMCORE_DEBUG=1`` for a build with Cython's bounds checks, C
assertions, debug symbols and no optimisation.  (Cython's overflow checks
stay off: the core relies on wrapping 128-bit arithmetic on purpose.)
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("IPAMCORE_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "embedsignature": True,
}
compile_args = ["-O0", "-g", "-UNDEBUG"] if DEBUG else ["-O2"]

extension = Extension(
    "ipamcore._bitmap",
    ["ipamcore/_bitmap.pyx"],
    extra_compile_args=compile_args,
)

setup(ext_modules=cythonize([extension], compiler_directives=directives))
