"""kinview: expert classification of MaNGA velocity fields with models in the loop.

The package is split so that the core never imports Qt or TensorFlow:

- ``kinview.data``        MAPS reader, catalogues, survey discovery, images, SDSS clients
- ``kinview.demo``        synthetic demo survey (MAPS files, images, catalogue, truth)
- ``kinview.kinematics``  field cleaning, position angles, misalignment, lambda_R, network inputs
- ``kinview.db``          the survey database (SQLite schema, migrations, connections)
- ``kinview.labels``      the append-only label log, consensus, agreement, catalogue import/export
- ``kinview.tasks``       the task registry (vfield-quality, spin, photoz, darkmatter)
- ``kinview.nets``        Keras 3 architectures (Keras imported inside the builders)
- ``kinview.learning``    datasets, splits, metrics and their intervals (below tasks and training)
- ``kinview.training``    training orchestration, model registry, model cards, prediction
- ``kinview.clusters``    darkCNN cluster-map datasets (generator, safe format, pickle importer)
- ``kinview.gui``         the PyQt5 + pyqtgraph application (the only Qt code)
- ``kinview.cli``         the ``kinview`` command line
"""

__version__ = "0.1.0"
