"""The counter window (PySide6). Widgets only: every decision is the engine's.

Importing this package does not import Qt; only :mod:`kiosk.ui.app` and the
widget modules do, so the CLI can import :mod:`kiosk.ui.assets` cheaply.
"""
