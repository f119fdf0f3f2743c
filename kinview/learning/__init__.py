"""What both the task definitions and the training loop need: datasets, splits and metrics.

This layer sits below :mod:`kinview.tasks` and :mod:`kinview.training` (each may import it,
it imports neither), which is what keeps tasks from importing the trainer:

- :mod:`~kinview.learning.datasets`  survey + labels -> cached network inputs and targets
- :mod:`~kinview.learning.splits`    train/val/test splits by group (galaxy, cluster)
- :mod:`~kinview.learning.metrics`   held-out classification and regression metrics
- :mod:`~kinview.learning.intervals` bootstrap confidence intervals of those metrics

Nothing here imports Keras or TensorFlow.
"""
