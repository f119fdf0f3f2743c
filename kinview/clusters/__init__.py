"""darkCNN-style galaxy-cluster map datasets for the ``darkmatter`` task.

- :mod:`kinview.clusters.generator`      synthetic CDM / SIDM clusters (``kinview demo-clusters``)
- :mod:`kinview.clusters.dataset`        the safe native format (``clusters.npz`` + ``.csv`` + ``.json``)
- :mod:`kinview.clusters.pickle_import`  darkCNN pickle -> native format, refused unless trusted,
                                         read with a restricted unpickler even then
"""
from kinview.clusters.dataset import ClusterFormatError, ClusterSet, is_cluster_dir, load_clusters, save_clusters

__all__ = ["ClusterFormatError", "ClusterSet", "is_cluster_dir", "load_clusters", "save_clusters"]
