"""Keras 3 architectures of kinview's tasks.

Every builder imports :mod:`keras` inside the function and uses Keras layers and
``keras.ops`` only (no ``tf.*`` calls), so the models run under the TensorFlow backend (the
default, ``tensorflow-cpu``) and also with ``KERAS_BACKEND=torch`` or ``jax``.  There are no
``Lambda`` layers: saved ``.keras`` files load with ``keras.saving.load_model(path,
safe_mode=True)``.

Modules
-------
layers   shared building blocks and numpy augmentation (flips, rotations, zoom, shifts)
vfield   the velocity-field usability classifiers (``seed-fcn``, ``seed-cnn``, ``default``)
spin     the λR_e regressors from colour images (``seed-cnn``, ``default``)
"""
