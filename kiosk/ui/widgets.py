"""Small builders for the widgets every screen makes the same way.

The stylesheet (:mod:`kiosk.ui.style`) and the tests find widgets by their
object name, so a label or a field is always made with one; building them
here keeps each screen's ``__init__`` about layout, not about three setter
calls per widget.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QLineEdit, QWidget


def label(parent: QWidget, name: str, text: str = "", *, wrap: bool = False) -> QLabel:
    """A :class:`QLabel` named ``name`` (word-wrapped when ``wrap``)."""
    widget = QLabel(text, parent)
    widget.setObjectName(name)
    widget.setWordWrap(wrap)
    return widget


def line_edit(parent: QWidget, name: str, placeholder: str) -> QLineEdit:
    """An empty :class:`QLineEdit` named ``name`` that shows ``placeholder`` until typed in."""
    widget = QLineEdit(parent)
    widget.setObjectName(name)
    widget.setPlaceholderText(placeholder)
    return widget
