"""``kinview gui`` as a user runs it: the no-display hint and the offscreen screenshot."""
import os
import subprocess
import sys

import numpy as np
import pytest

from gui_support import make_survey, standard_specs


def _env(**extra):
    env = dict(os.environ)
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(key, None)
    env.update(extra)
    return env


@pytest.mark.parametrize("argv", [[], ["gui"]])
def test_no_display_prints_a_one_line_hint_and_fails(argv, tmp_path):
    out = subprocess.run([sys.executable, "-m", "kinview", *argv], env=_env(),
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "xvfb-run kinview" in lines[0] and "--screenshot" in lines[0]
    # nothing was created in the user data folder (no demo survey without a display)
    assert not (tmp_path / "demo-survey").exists()


def test_screenshot_writes_the_window_as_png(tmp_path):
    from PIL import Image

    survey = make_survey(tmp_path / "survey", standard_specs(3))
    shot = tmp_path / "shot.png"
    out = subprocess.run([sys.executable, "-m", "kinview", "gui", "--survey", str(survey),
                          "--screenshot", str(shot), "--size", "1400x900"], env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert shot.is_file()
    img = Image.open(shot).convert("RGB")
    assert img.size[0] >= 1400 and img.size[1] >= 900
    # the velocity maps are drawn: plenty of saturated red and blue pixels
    px = np.asarray(img).reshape(-1, 3).astype(int)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    red = int(((r > 150) & (b < 110) & (g < 120)).sum())
    blue = int(((b > 150) & (r < 110)).sum())
    assert red > 2000 and blue > 2000, (red, blue)


def test_bad_survey_is_one_line_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kinview", "gui", "--survey",
                          str(tmp_path / "nope"), "--screenshot", str(tmp_path / "x.png")],
                         env=_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("kinview: error:") and "nope" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
