"""Files shipped inside the package (package data, read through :mod:`importlib.resources`).

- ``help.html``   the keyboard help text (the key table is generated from the key map)
- ``models/``     the default model of each task, ``<task>-default.keras`` with its JSON model
  card, and ``README.md`` on what each was trained on

Use :func:`kinview.paths.resource_text`, :func:`kinview.paths.resources_dir` and
:func:`kinview.paths.models_dir` rather than paths relative to the source tree: a regular
``pip install .`` (not only an editable one) ships these files with the package.
"""
