"""Persisted user settings (no Qt here): a small JSON file in the user settings folder.

The file is ``kinview.paths.user_config_dir() / "settings.json"``.  It holds the expert's name,
the last survey opened, the last galaxy shown per survey, the colour clip, the filter, the
toggles and the window geometry/state (Qt's opaque byte strings, stored as base64 text).
Writes are atomic (temporary file + ``os.replace``), so a crash never leaves a half-written
file; an unreadable file is ignored (defaults are used) rather than stopping the GUI.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Dict, List, Optional

from kinview import paths

FILE_NAME = "settings.json"


def settings_path() -> Path:
    """Where the settings live (``KINVIEW_CONFIG_DIR`` overrides the folder)."""
    return paths.user_config_dir() / FILE_NAME


@dataclass
class Settings:
    """User settings.

    Attributes
    ----------
    expert : str or None
        Name stored with every label.
    last_survey : str or None
        Absolute path of the survey opened last.
    positions : dict
        ``{survey path: plate-ifu}`` of the galaxy shown last in each survey.
    filters : dict
        ``{survey path: [filter name, k]}``.
    clip_percentile : float
        Percentile of |v − v_sys| setting the symmetric velocity colour limits.
    toggles : dict
        Map toggles (``sigma``, ``flux``, ``cleaned``, ``wedge``, ``auto_advance``).
    window_geometry, window_state : str or None
        Base64 of ``QMainWindow.saveGeometry()`` / ``saveState()``.
    recent_surveys : list of str
        Absolute paths of the surveys opened last, newest first (File ▸ Recent surveys).
    """

    expert: Optional[str] = None
    last_survey: Optional[str] = None
    positions: Dict[str, str] = field(default_factory=dict)
    filters: Dict[str, list] = field(default_factory=dict)
    clip_percentile: float = 98.0
    toggles: Dict[str, bool] = field(default_factory=dict)
    window_geometry: Optional[str] = None
    window_state: Optional[str] = None
    recent_surveys: List[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "Settings":
        """Read the settings file; missing or unreadable → defaults."""
        path = Path(path) if path else settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        out = cls()
        for key, value in data.items():
            if key in known:
                setattr(out, key, value)
        try:
            out.clip_percentile = float(out.clip_percentile)
        except (TypeError, ValueError):
            out.clip_percentile = 98.0
        for name in ("positions", "filters", "toggles"):
            if not isinstance(getattr(out, name), dict):
                setattr(out, name, {})
        if not isinstance(out.recent_surveys, list):
            out.recent_surveys = []
        out.recent_surveys = [str(p) for p in out.recent_surveys if isinstance(p, str)]
        return out

    def save(self, path: Optional[Path] = None) -> Path:
        """Write the settings atomically; returns the file path."""
        path = Path(path) if path else settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=str(path.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(asdict(self), fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    # helpers ---------------------------------------------------------------------------------
    @staticmethod
    def survey_key(survey_dir) -> str:
        return str(Path(survey_dir).resolve())

    def position(self, survey_dir) -> Optional[str]:
        return self.positions.get(self.survey_key(survey_dir))

    def add_recent(self, survey_dir, keep: int = 8) -> None:
        """Put ``survey_dir`` first in :attr:`recent_surveys` (at most ``keep`` entries)."""
        key = self.survey_key(survey_dir)
        self.recent_surveys = [key] + [p for p in self.recent_surveys if p != key][:keep - 1]

    def set_position(self, survey_dir, plateifu: Optional[str]) -> None:
        if plateifu:
            self.positions[self.survey_key(survey_dir)] = plateifu
