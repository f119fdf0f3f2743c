"""Kinematics: field cleaning, global PA fits, ΔPA, λR_e and network inputs.

PA convention (SPEC §1): degrees East of North to the receding side, [0, 360).
Importing this package does not import pafit or matplotlib (they load inside the fit).

Public API
----------
clean_field(field) -> CleanedField
fit_pa(field, method="fast"|"pafit", nsteps=361) -> PAFit
misalignment(stellar_pa, gas_pa) -> Misalignment
lambda_re(maps) -> float
vfield_input(field, size=32), image_input(rgb, size=80)   (kinview.kinematics.inputs)
fit_survey(survey_dir, method, jobs, refit, nsteps, state)  (kinview.kinematics.survey_fit)
"""
from kinview.kinematics.cleaning import CleanedField, clean_field
from kinview.kinematics.inputs import image_input, image_inputs, vfield_input, vfield_inputs
from kinview.kinematics.lambda_r import lambda_r, lambda_re
from kinview.kinematics.misalignment import Misalignment, misalignment
from kinview.kinematics.pa import METHODS, PAFit, fit_pa

__all__ = ["CleanedField", "clean_field", "PAFit", "fit_pa", "METHODS", "Misalignment",
           "misalignment", "lambda_r", "lambda_re", "vfield_input", "vfield_inputs",
           "image_input", "image_inputs"]
