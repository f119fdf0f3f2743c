"""The loading state of a sky panel before its first galaxy: a plain sky range, not the
±1e-40 an empty plot autoscales to (seen in the xdotool trial behind the first-run prompt)."""
import pytest
from PyQt5 import QtWidgets


@pytest.mark.parametrize("kind", ["image", "map"])
def test_first_loading_state_shows_a_sky_range(qtbot, kind):
    from kinview.gui.image_panel import ImagePanel
    from kinview.gui.map_panel import MapPanel

    panel = ImagePanel() if kind == "image" else MapPanel("Stellar velocity", "velocity")
    qtbot.addWidget(panel)
    panel.resize(400, 400)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_loading()
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    (x0, x1), (y0, y1) = panel.getPlotItem().getViewBox().viewRange()
    assert x1 - x0 > 10 and y1 - y0 > 10
    for name in ("bottom", "left"):
        labels = [v for _, vals in panel.getPlotItem().getAxis(name).tickValues(y0, y1, 400)
                  for v in vals]
        assert all(abs(v) >= 1 or v == 0 for v in labels)
