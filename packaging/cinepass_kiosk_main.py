"""PyInstaller entry point of the counter app: the same ``main`` as the console script.

Kept as a file of its own (not ``kiosk/cli.py``) because PyInstaller runs its
entry script as ``__main__``; the package stays importable as ``kiosk``.
"""

import multiprocessing
import os
import sys

from kiosk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # harmless if unused; required if anything spawns on Windows
    # The windowed Windows executable (CinePass.exe) has no console: sys.stdout
    # and sys.stderr are None there, and the first print() would raise.
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    sys.exit(main())
