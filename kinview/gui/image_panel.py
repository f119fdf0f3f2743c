"""The colour-image panel: SDSS-style gri cutout, North up / East left, arcsec axes, with the
IFU footprint, the photometric major axis (dashed) and the stellar kinematic PA (solid).

By default it shows the same sky as the maps (the IFU's scale); :meth:`ImagePanel.wide_range`
is the whole cutout, for the "wide image" view option."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg

from kinview.gui.map_panel import SkyPlot, transform
from kinview.gui.overlays import FootprintItem, PALine


class ImagePanel(SkyPlot):
    """Colour image with overlays (see module docstring)."""

    MARK_COLOR = "#ffffff"

    def __init__(self, parent=None):
        super().__init__("Colour image", parent)
        pi = self.getPlotItem()
        self.image = pg.ImageItem(axisOrder="row-major")
        pi.addItem(self.image)
        self.footprint = FootprintItem(color="#ff66ff", width=1.8)
        pi.addItem(self.footprint)
        self.phot = PALine(pi, color="#00e5ff", wedge_color=(0, 0, 0, 0), movable=False,
                           minor_axis=False, width=1.8, dash=True, arrow=False)
        self.kin = PALine(pi, color="#ffee00", wedge_color=(0, 0, 0, 0), movable=False,
                          minor_axis=False, width=1.8)
        self.message = pg.TextItem("", color="#b00000", anchor=(0.5, 0.5))
        pi.addItem(self.message)
        self.has_image = False
        self.cutout_half = 32.0

    def _blank(self) -> None:
        self.has_image = False
        self.image.clear()
        self.footprint.set_polygon(None)
        self.phot.set_pa(float("nan"))
        self.kin.set_pa(float("nan"))
        self.message.setColor("#555555")
        self.message.setText("loading…")
        self.message.setPos(0, 0)
        self.message.setVisible(True)

    def wide_range(self):
        """The whole cutout of the galaxy drawn last, as a view range (arcsec)."""
        h = self.cutout_half
        return (-h, h), (-h, h)

    def set_galaxy(self, data, stellar_pa: float = float("nan"), view_range=None):
        """Draw ``data.image`` (uint8 H×W×3, North up) with its overlays; show ``view_range``
        (``((x_min, x_max), (y_min, y_max))`` arcsec; default: the whole cutout)."""
        self.loading = False
        img = data.image
        radius = None
        if data.footprint is not None:
            radius = float(np.max(np.hypot(data.footprint[:, 0], data.footprint[:, 1])))
        if img is None:
            self.has_image = False
            self.image.clear()
            what = next((m for m in data.missing if "image" in m), "no colour image")
            self.message.setColor("#b00000")
            self.message.setText(what)
            self.message.setPos(0, 0)
            self.message.setVisible(True)
            self.set_title(f"Colour image — <span style='color:#b00000'>{what}</span>",
                           "<span style='color:#b00000'>no image</span>")
            self.cutout_half = radius * 1.3 if radius else 16.0
        else:
            self.has_image = True
            self.message.setVisible(False)
            h, w = img.shape[:2]
            s = data.image_scale
            # row 0 is the North edge, column 0 the East edge of the cutout
            x0 = (w / 2.0 - 0.5) * s
            y0 = (h / 2.0 - 0.5) * s
            self.image.setImage(img, autoLevels=False)      # uint8 RGB: drawn as is
            self.image.setTransform(transform(x0, -s, y0, -s))
            self.cutout_half = min(w, h) * s / 2.0
            if np.isfinite(data.phot_pa):
                self.set_title(f"Colour image — phot. PA {data.phot_pa % 180:.0f}°",
                               f"Image — phot. PA {data.phot_pa % 180:.0f}°", "Colour image")
            else:
                self.set_title("Colour image")
        self.footprint.set_polygon(data.footprint)
        r = radius or 10.0
        self.phot.set_pa(data.phot_pa if np.isfinite(data.phot_pa) else float("nan"),
                         radius=r * 1.15)
        self.kin.set_pa(stellar_pa, radius=r * 0.9)
        self.set_view(view_range or self.wide_range())
