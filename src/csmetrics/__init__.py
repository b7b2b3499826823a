"""csmetrics: customer success metrics, exactly defined and auditable."""

from csmetrics.compute import compute
from csmetrics.io import Dataset, ingest, load_data_dir, open_source, open_workspace

__version__ = "0.1.0"

__all__ = ["Dataset", "__version__", "compute", "ingest", "load_data_dir", "open_source", "open_workspace"]
