"""Running a counter unattended: logs, backups, upgrades, provisioning, diagnostics.

Nothing here imports Qt or OpenCV at module level (the CLI's ``backup``,
``diagnose`` and ``provision`` must answer fast and work on a machine whose
display is broken); the Qt parts of :mod:`single_instance` and :mod:`crash`
import it inside the functions that need it.
"""
