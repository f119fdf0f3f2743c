"""Data layer: MAPS files, catalogues, surveys, colour images and SDSS clients (no Qt, no TF)."""
