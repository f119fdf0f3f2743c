"""Synthetic MaNGA-like demo survey (SPEC §5): :func:`generate_survey`.

Modules: :mod:`~kinview.demo.population` (galaxy parameters and classes),
:mod:`~kinview.demo.kinematics_model` (velocity/dispersion/flux maps and masks),
:mod:`~kinview.demo.imaging` (gri colour cutouts), :mod:`~kinview.demo.writer` (files).
"""
from kinview.demo.writer import generate_survey

__all__ = ["generate_survey"]
