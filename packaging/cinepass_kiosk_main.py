"""PyInstaller entry point of the counter app: the same ``main`` as the console script.

Kept as a file of its own (not ``kiosk/cli.py``) because PyInstaller runs its
entry script as ``__main__``; the package stays importable as ``kiosk``.
"""

import multiprocessing
import sys

from kiosk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # harmless if unused; required if anything spawns on Windows
    sys.exit(main())
