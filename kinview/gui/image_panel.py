"""The colour-image panel: SDSS-style gri cutout, North up / East left, arcsec axes, with the
IFU footprint, the photometric major axis (dashed) and the stellar kinematic PA (solid)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg

from kinview.gui.map_panel import SkyPlot, transform
from kinview.gui.overlays import FootprintItem, PALine


class ImagePanel(SkyPlot):
    """Colour image with overlays (see module docstring)."""

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

    def set_galaxy(self, data, stellar_pa: float = float("nan"), view_half: Optional[float] = None):
        """Draw ``data.image`` (uint8 H×W×3, North up) with its overlays."""
        img = data.image
        radius = None
        if data.footprint is not None:
            radius = float(np.max(np.hypot(data.footprint[:, 0], data.footprint[:, 1])))
        if img is None:
            self.has_image = False
            self.image.clear()
            what = next((m for m in data.missing if "image" in m), "no colour image")
            self.message.setText(what)
            self.message.setPos(0, 0)
            self.message.setVisible(True)
            self.set_title(f"Colour image — <span style='color:#b00000'>{what}</span>")
            half = view_half or (radius * 1.3 if radius else 16.0)
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
            # the whole cutout (a fixed range also keeps the axes from being re-laid out)
            half = view_half or min(w, h) * s / 2.0
            title = "Colour image"
            if np.isfinite(data.phot_pa):
                title += f" — phot. PA {data.phot_pa % 180:.0f}°"
            self.set_title(title)
        self.footprint.set_polygon(data.footprint)
        r = radius or 10.0
        self.phot.set_pa(data.phot_pa if np.isfinite(data.phot_pa) else float("nan"),
                         radius=r * 1.15)
        self.kin.set_pa(stellar_pa, radius=r * 0.9)
        self.show_range(half)
