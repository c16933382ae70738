"""The set-up wizard's two jobs (enrol with a server, or set up standalone) and their runner.

There is no engine yet while the wizard shows (the data folder is empty), so
:class:`SetupRunner` runs the job on a worker thread of its own and, once the
folder holds a valid config, hands the :class:`~kiosk.config.KioskConfig` to
the window, which then starts the counter as on any later start. Enrolment
talks to the network and may wait for seconds: it must not freeze the wizard.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from kiosk.config import load_config, save_config
from kiosk.errors import KioskError
from kiosk.paths import KioskPaths

from .bridge import ServiceThread
from .failures import failure_reason, failure_text
from .wizard import SetupWizard

SetupJob = Callable[[], None]


def enrol_job(paths: KioskPaths, url: str, code: str, counter: str) -> SetupJob:
    """Enrol this counter with the server's one-time ``code``; name it ``counter`` if given."""

    def job() -> None:
        from kiosk.enrollment import enroll

        enroll(paths.home, url, code, name=counter or None)
        if counter:
            cfg = load_config(paths.config)
            cfg.counter = counter
            save_config(paths.config, cfg)

    return job


def standalone_job(paths: KioskPaths, cinema: str, key_file: str, counter: str) -> SetupJob:
    """Set up a counter with no server, trusting the issuer key in ``key_file``."""

    def job() -> None:
        from kiosk.engine.service import init_standalone
        from sync.voucher.keys import load_public_key

        key = load_public_key(Path(key_file).expanduser())
        init_standalone(paths.home, cinema=cinema, issuer_keys=[key], counter=counter)

    return job


class SetupRunner(QObject):
    """Answers the wizard: runs its job, shows a failure in it, ``finished(config)`` on success.

    ``failed(exception)`` also fires (after the wizard shows the words), for
    whoever else wants to know.
    """

    finished = Signal(object)  # KioskConfig
    failed = Signal(object)  # BaseException

    def __init__(self, paths: KioskPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.wizard: SetupWizard | None = None
        self.failed.connect(self._show_failure)

    def attach(self, wizard: SetupWizard) -> None:
        self.wizard = wizard
        wizard.enrol_requested.connect(
            lambda url, code, counter: self.run(enrol_job(self.paths, url, code, counter))
        )
        wizard.standalone_requested.connect(
            lambda cinema, key, counter: self.run(standalone_job(self.paths, cinema, key, counter))
        )

    def _show_failure(self, exc: BaseException) -> None:
        if self.wizard is not None:
            reason, text = failure_reason(exc), failure_text(exc)
            self.wizard.show_error(self.wizard.explain(reason, text) if reason else text)

    def run(self, job: SetupJob) -> None:
        if self.wizard is not None:
            self.wizard.set_busy(True)
        worker = ServiceThread(lambda: None, self)

        def done(_result: Any) -> None:
            worker.stop()
            try:
                cfg = load_config(self.paths.config)
            except KioskError as exc:
                self.failed.emit(exc)
                return
            self.finished.emit(cfg)

        def failed(exc: BaseException) -> None:
            worker.stop()
            self.failed.emit(exc)

        worker.start()
        worker.submit(lambda _none: job(), done, failed)
