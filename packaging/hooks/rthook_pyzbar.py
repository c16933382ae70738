"""PyInstaller runtime hook: let pyzbar find the bundled ``libzbar.so.0`` on Linux.

pyzbar loads zbar with ``ctypes.util.find_library("zbar")``. PyInstaller
patches ``find_library`` to search the bundle only on Windows; on Linux it
asks ``ldconfig``/``gcc``, which on a counter PC without ``libzbar0`` finds
nothing, and pyzbar raises "Unable to find zbar shared library". The spec
copies the system ``libzbar.so.0`` into the bundle root; this hook answers
``find_library("zbar")`` with that file, and defers to the original for
every other name.
"""

import ctypes.util
import os
import sys

_bundle = getattr(sys, "_MEIPASS", None)
if _bundle and sys.platform.startswith("linux"):
    _original = ctypes.util.find_library

    def _find_library(name: str) -> str | None:
        if name == "zbar":
            for candidate in ("libzbar.so.0", "libzbar.so"):
                path = os.path.join(_bundle, candidate)
                if os.path.exists(path):
                    return path
        return _original(name)

    ctypes.util.find_library = _find_library
