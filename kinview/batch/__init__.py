"""Batch work beyond one process: catalogue-scale predictions and survey PA fits on Dask.

- :mod:`kinview.batch.catalogue`  a catalogue (Parquet, FITS, CSV) split into row-range
  partitions that a worker reads on its own, without the rest of the file
- :mod:`kinview.batch.engine`     a Dask client (a ``LocalCluster`` or any scheduler address)
  and the loop that follows its futures with progress, Ctrl-C and cancellation
- :mod:`kinview.batch.output`     the partitioned Parquet result: one file per finished
  partition, written atomically, with the model and kinview version in its metadata
- :mod:`kinview.batch.predict`    ``kinview predict TASK --catalogue``: image tasks on millions
  of catalogue rows, resumable
- :mod:`kinview.batch.worker_setup`  preload of local workers (Ctrl-C belongs to the client)

Dask (``dask[distributed]``) is imported only inside the functions that use it.  Workers must
be able to import kinview and see the catalogue, image and model files at the same paths as
the client (a shared file system on a cluster); results come back to the client, which alone
writes them.
"""
