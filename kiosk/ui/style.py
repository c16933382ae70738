"""The window's look: calm greys around a verdict that is the only loud thing.

Sizes are in pixels for the bundled CJK font; buttons are large enough for
a touch screen and the 2D/3D selector shows its state by fill *and* label.
"""

STYLE = """
QMainWindow, #scanScreen, #managerView, #pinGate, #setupWizard { background: #eceff1; }
QLabel { color: #263238; }
QPushButton {
    font-size: 16px; padding: 6px 16px; border-radius: 6px;
    background: #ffffff; border: 1px solid #b0bec5; color: #263238;
}
QPushButton:hover { background: #f5f7f8; }
QPushButton:pressed { background: #cfd8dc; }
QPushButton:disabled { color: #90a4ae; }
QPushButton:checked {
    background: #1565c0; color: #ffffff; border-color: #0d47a1; font-weight: bold;
}
#fmt2D, #fmt3D { font-size: 20px; min-width: 120px; min-height: 44px; }
#fmt2D { border-top-right-radius: 0; border-bottom-right-radius: 0; }
#fmt3D { border-top-left-radius: 0; border-bottom-left-radius: 0; border-left: none; }
#fmtLabel { font-size: 16px; }
#place { font-size: 22px; font-weight: bold; color: #102027; }
#managerButton, #managerBack, #managerQuit { min-height: 40px; }
#codeField, #pinField, #pinConfirm {
    font-size: 20px; padding: 4px 10px; border: 2px solid #90a4ae; border-radius: 6px;
    background: #ffffff;
}
#codeField:focus, #pinField:focus { border-color: #1565c0; }
#codeButton { font-size: 18px; }
#undoButton { color: #b71c1c; font-size: 17px; }
#undoBar { background: #fff3e0; border: 2px solid #f2a007; border-radius: 8px; }
#undoBar QLabel { font-size: 17px; font-weight: bold; }
#undoYes { background: #c62828; color: #ffffff; border-color: #8e0000; font-weight: bold; }
#notice { font-size: 16px; }
#preview { border-radius: 10px; }
QStatusBar { background: #cfd8dc; }
QStatusBar QLabel { font-size: 14px; padding: 2px 6px; }
QStatusBar::item { border: none; }
#pinHeading { font-size: 28px; }
#pinMessage { color: #c62828; font-size: 17px; font-weight: bold; }
#pinOk { background: #1565c0; color: #ffffff; font-weight: bold; }
#setupGo { background: #1565c0; color: #ffffff; font-weight: bold; font-size: 20px; }
QGroupBox { font-weight: bold; border: 1px solid #b0bec5; border-radius: 8px; margin-top: 14px;
    background: #ffffff; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; }
QTabWidget::pane { border: 1px solid #b0bec5; background: #ffffff; border-radius: 6px; }
QTabBar::tab { font-size: 16px; padding: 8px 20px; }
QTabBar::tab:selected { font-weight: bold; }
#errorPage { font-size: 22px; color: #b71c1c; padding: 40px; }
"""
