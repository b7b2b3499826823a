"""Reading data directories and workspaces into Ibis tables; writing workspaces."""

from csmetrics.io.dataset import (
    DEFAULT_WORKSPACE,
    Dataset,
    ingest,
    load_data_dir,
    open_source,
    open_workspace,
    opened,
)

__all__ = ["DEFAULT_WORKSPACE", "Dataset", "ingest", "load_data_dir", "open_source", "open_workspace", "opened"]
