"""Expert labels: an append-only log in the survey database, consensus, agreement, catalogues.

The API shared by the GUI, the command line and the training code (no Qt here):

- :class:`LabelStore` — ``add`` (committed and fsynced before it returns), ``undo_last``,
  ``current``, ``current_for``, ``label_state`` (all galaxies, for the list), ``consensus``,
  ``disagreements``, ``agreement``, ``training_labels``, ``label_hash``.
- :func:`label_hash` — stable hash of a training label set.
- :func:`import_catalogue` / :func:`export_catalogue` — MPL-7 format and kinview's own
  (CSV, FITS, ECSV, VOTable, Parquet).
- :func:`cohen_kappa`, :func:`fleiss_kappa` — inter-expert agreement.
- :func:`default_expert` — ``--expert``, ``$KINVIEW_EXPERT``, settings, or the login name.
"""
from kinview.labels.agreement import cohen_kappa, cohen_kappa_table, fleiss_kappa
from kinview.labels.catalogue_io import (CATALOGUE_COLUMNS, ImportReport, export_catalogue,
                                         export_table, import_catalogue, read_table, write_table)
from kinview.labels.consensus import consensus_table, disagreements
from kinview.labels.experts import default_expert, save_default_expert
from kinview.labels.store import LabelStore, LabelValueError, label_hash

__all__ = ["LabelStore", "LabelValueError", "label_hash", "import_catalogue", "export_catalogue",
           "export_table", "read_table", "write_table", "ImportReport", "CATALOGUE_COLUMNS",
           "cohen_kappa", "cohen_kappa_table", "fleiss_kappa", "consensus_table", "disagreements",
           "default_expert", "save_default_expert"]
