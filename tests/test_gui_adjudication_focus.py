"""A click on the adjudication panel leaves the keyboard focus on the queue, so that the next
digit is a final label and not a label of the adjudicator (a digit outside the queue is a
stellar- or gas-feature key of the main window)."""
from PyQt5 import QtCore, QtWidgets
from PyQt5.QtTest import QTest


def test_clicking_the_panel_keeps_the_focus_on_the_queue(qtbot):
    from kinview.gui.adjudication_panel import AdjudicationPanel

    panel = AdjudicationPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    panel.table.setFocus()
    QtWidgets.QApplication.processEvents()
    assert panel.table.hasFocus()
    for widget in (panel.summary, panel.scroll.viewport(), panel.choice_box,
                   panel.kappa.viewport()):
        QTest.mouseClick(widget, QtCore.Qt.LeftButton, pos=QtCore.QPoint(5, 5))
        QtWidgets.QApplication.processEvents()
        assert QtWidgets.QApplication.focusWidget() is panel.table, type(widget).__name__
