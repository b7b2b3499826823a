"""Which Ibis backend runs the metrics: DuckDB by default, Apache Spark for scale-out.

The metric code is the same Ibis expressions on every engine; this module only
decides where the input tables live.

DuckDB (default)
    A data directory is validated and loaded into an in-memory DuckDB; a
    workspace is a DuckDB file (see :mod:`csmetrics.io.dataset`).

Spark (``engine="spark"``)
    ``data`` is one of

    - a local data directory (CSV or Parquet) or a workspace: it is validated
      exactly as for DuckDB (same errors, same typing), the typed tables are
      staged as Parquet in a temporary directory and Spark reads them;
    - a URL with a scheme Spark reads (``s3a://``, ``gs://``, ``abfss://``,
      ``hdfs://``, ``file://``): a directory holding ``NAME.parquet`` files or
      directories, read by Spark directly;
    - ``spark:DATABASE`` (or ``spark:CATALOG.DATABASE``): existing Spark
      tables named after the input tables (``accounts``, ``subscriptions``...).

    The last two never pass through the machine running csmetrics, so they are
    not validated row by row: their columns are checked against the table
    contracts and cast to the contract's types (see :func:`conform`).

The Spark session runs in UTC (SPEC section 5). ``spark_master`` defaults to
``local[2]``; for a cluster pass its URL (``spark://host:7077``, ``yarn``,
``k8s://...``). Configure executors as usual (``spark-defaults.conf``,
``SPARK_CONF_DIR``) or pass ``spark_conf``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from csmetrics.config import Config
from csmetrics.io.dataset import SPILL_PREFIX, Dataset, duckdb_memory_limit, open_source
from csmetrics.io.validate import q
from csmetrics.schema.errors import DataError, Defect, UsageError
from csmetrics.schema.tables import TABLE_ORDER, TABLES, TableSpec

ENGINES = ("duckdb", "spark")
SPARK_LOG4J = Path(__file__).with_name("spark-log4j2.properties")
"""Spark's JVM log configuration: errors only (a user's own settings in ``spark_conf`` win)."""
DEFAULT_SPARK_MASTER = "local[2]"

SPARK_CONF: dict[str, str] = {
    # SPEC section 5: every timestamp counts on its UTC date.
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
    # Parquet timestamps written without a zone (DuckDB TIMESTAMP) stay wall-clock UTC.
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}
"""Settings applied to every session csmetrics creates."""

LOCAL_SPARK_CONF: dict[str, str] = {
    # The inputs of one machine are small for Spark: few shuffle partitions
    # keep a local run from spending its time scheduling empty tasks.
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
    "spark.sql.adaptive.enabled": "true",
    # Not ./spark-warehouse in whatever directory the command runs from.
    "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "csmetrics-spark-warehouse"),
}
"""Extra settings when the master is ``local[...]`` (``spark_conf`` overrides them)."""


_URL = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*):/+(?P<rest>.*)$")


def open_dataset(
    data: str | Path | None = None,
    workspace: str | Path | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
    *,
    spark_conf: dict[str, str] | None = None,
) -> Dataset:
    """Open the input on the chosen engine (``duckdb`` or ``spark``).

    With ``spark``, ``data`` may also be a Parquet URL or ``spark:DATABASE``
    (see the module docstring). ``ds.backend.disconnect()`` releases what was
    opened: DuckDB's spill directory, Spark's staging directory, and the Spark
    session when csmetrics started it (one already running is left running).
    DuckDB's memory is capped (:func:`tune_duckdb`).
    """
    if engine == "duckdb":
        if spark_master is not None:
            raise UsageError("--spark-master needs --engine spark")
        limit = duckdb_memory_limit()
        ds = open_source(data, workspace)
        tune_duckdb(ds.backend, limit)
        return ds
    if engine != "spark":
        raise UsageError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if data is not None and workspace is not None:
        raise UsageError("give --data or --workspace, not both")
    text = str(data) if data is not None else None
    url = _remote_url(text) if text is not None else None
    local = None
    if text is None or (url is None and not text.startswith("spark:")):
        local = open_source(data, workspace)  # validated on DuckDB first: same errors as without Spark
    backend = None
    try:
        backend = spark_backend(spark_master, spark_conf)
        if local is not None:
            return to_spark(local, backend)
        if url is not None and not url.startswith("spark://"):
            return open_parquet_url(backend, url)
        return open_spark_tables(backend, str(text).removeprefix("spark:"))
    except BaseException:
        if backend is not None:
            backend.disconnect()
        raise
    finally:
        if local is not None:
            local.backend.disconnect()


# -- DuckDB --------------------------------------------------------------------


def tune_duckdb(backend: Any, memory_limit: str | None = None) -> None:
    """Set DuckDB's memory cap (``memory_limit``, else ``$CSMETRICS_DUCKDB_MEMORY_LIMIT``, else 2GB)
    and remove the private spill directory on disconnect.

    Datasets from :func:`csmetrics.io.dataset.open_source` are already capped,
    with a private spill directory (:func:`csmetrics.io.dataset.cap_memory`), so a
    large company runs in bounded memory instead of DuckDB's default of 80% of
    the machine; this only ties that directory's removal to ``disconnect()``.
    """
    limit = duckdb_memory_limit(memory_limit)
    backend.raw_sql(f"SET memory_limit = '{limit}'")
    row = backend.con.execute("SELECT current_setting('temp_directory')").fetchone()
    spill = Path(row[0]) if row and row[0] else None
    if spill is not None and spill.name.startswith(SPILL_PREFIX):
        _on_disconnect(backend, stop_session=True, cleanup=spill)
    else:
        _on_disconnect(backend, stop_session=True)


# -- the Spark session ---------------------------------------------------------


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> tuple[Any, bool]:
    """(SparkSession, created): the active session if there is one on ``master``, else a new one.

    ``created`` tells whether csmetrics started it (and so should stop it).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - depends on the install
        raise UsageError("the spark engine needs pyspark: pip install 'csmetrics[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        if master is not None and active.sparkContext.master != master:
            # One SparkContext per process: a second master cannot be started.
            raise UsageError(f"a Spark session on {active.sparkContext.master} is already running in this "
                             f"process; it cannot also run on {master} (omit --spark-master to use it)")
        for key, value in {**SPARK_CONF, **(conf or {})}.items():
            if active.conf.isModifiable(key):  # a running session takes only runtime SQL settings
                active.conf.set(key, value)
        return active, False
    master = master or DEFAULT_SPARK_MASTER
    settings = dict(SPARK_CONF)
    # The JVM starts with these (pyspark passes them to spark-submit): Spark's startup WARN lines are noise here.
    settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={SPARK_LOG4J.as_uri()}"
    if master.startswith("local"):
        settings.update(LOCAL_SPARK_CONF)
        # One machine: bind to loopback instead of guessing an interface (and warning about it).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName("csmetrics")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session, True


def spark_backend(master: str | None = None, conf: dict[str, str] | None = None) -> Any:
    """An Ibis pyspark backend on :func:`spark_session`, in UTC."""
    session, created = spark_session(master, conf)
    backend = ibis.pyspark.connect(session)
    _on_disconnect(backend, stop_session=created)
    return backend


def _on_disconnect(backend: Any, stop_session: bool, cleanup: Path | None = None) -> None:
    """Make ``backend.disconnect()`` remove ``cleanup`` and stop the session only if we started it."""
    state = backend.__dict__.setdefault("_csmetrics", {"stop": stop_session, "dirs": []})
    if cleanup is not None:
        state["dirs"].append(cleanup)
        # Also on garbage collection / interpreter exit, for callers that never disconnect.
        weakref.finalize(backend, shutil.rmtree, str(cleanup), True)
    if "disconnect" in backend.__dict__:
        return
    original = backend.disconnect

    def disconnect() -> None:
        try:
            if state["stop"]:
                original()
            else:
                for name in list(getattr(backend, "_cached_dataframes", {})):
                    backend._drop_cached_table(name)
        finally:
            for d in state["dirs"]:
                shutil.rmtree(d, ignore_errors=True)
            state["dirs"].clear()

    backend.disconnect = disconnect


# -- inputs --------------------------------------------------------------------


def to_spark(ds: Dataset, backend: Any, stage_dir: str | Path | None = None) -> Dataset:
    """The validated, typed tables of a DuckDB dataset, on Spark.

    Each table is written once to Parquet (in ``stage_dir``, default a new
    temporary directory removed on ``disconnect``) and registered with Spark,
    so both engines compute from byte-identical typed inputs.
    """
    if stage_dir is None:
        stage = Path(tempfile.mkdtemp(prefix="csmetrics-spark-"))
        _on_disconnect(backend, stop_session=False, cleanup=stage)
    else:
        stage = Path(stage_dir)
        stage.mkdir(parents=True, exist_ok=True)
    con = ds.backend.con
    prefix = f"cs_{id(ds):x}_"
    tables: dict[str, ir.Table] = {}
    for name, t in ds.tables.items():
        path = stage / f"{name}.parquet"
        rel = t.get_name()
        con.execute(f"COPY (SELECT * FROM {q(rel)}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        tables[name] = backend.read_parquet(str(path), table_name=prefix + name)
    return Dataset(backend, tables, ds.config, ds.source, dict(ds.extra_columns))


def _remote_url(text: str) -> str | None:
    """``text`` as a URL if it has a scheme (repairing the ``//`` that ``Path`` collapses)."""
    m = _URL.match(text)
    if m is None or len(m["scheme"]) == 1:  # "C:/..." is a Windows path
        return None
    if "://" in text:
        return text
    # Path("s3a://b/x") is "s3a:/b/x"; file URLs have an empty host: file:///x.
    return f"{m['scheme']}://{'/' if m['scheme'] == 'file' else ''}{m['rest']}"


def open_parquet_url(backend: Any, url: str, config: Config | None = None) -> Dataset:
    """Input tables read by Spark from ``URL/NAME.parquet`` (a file or a directory of parts)."""
    jvm_fs = _hadoop_lister(backend)
    base = url.rstrip("/")
    raw: dict[str, ir.Table] = {}
    for name in TABLE_ORDER:
        path = f"{base}/{name}.parquet"
        if jvm_fs(path):
            raw[name] = backend.read_parquet(path, table_name=f"cs_url_{name}")
    return _conformed(backend, raw, config or Config(), url)


def open_spark_tables(backend: Any, database: str, config: Config | None = None) -> Dataset:
    """Input tables already in Spark: ``DATABASE.accounts``, ``DATABASE.subscriptions``..."""
    db: str | tuple[str, str] = tuple(database.split(".", 1)) if "." in database else database  # type: ignore[assignment]
    try:
        present = set(backend.list_tables(database=db))
    except Exception as exc:
        raise UsageError(f"spark database {database!r} could not be listed: {exc}") from exc
    raw = {name: backend.table(name, database=db) for name in TABLE_ORDER if name in present}
    return _conformed(backend, raw, config or Config(), f"spark:{database}")


def _hadoop_lister(backend: Any) -> Any:
    """A function telling whether a path exists, through Spark's Hadoop filesystem layer."""
    session = backend._session
    jvm = session._jvm
    hconf = session._jsc.hadoopConfiguration()

    def exists(path: str) -> bool:
        p = jvm.org.apache.hadoop.fs.Path(path)
        return bool(p.getFileSystem(hconf).exists(p))

    return exists


def _conformed(backend: Any, raw: dict[str, ir.Table], config: Config, source: str) -> Dataset:
    if "accounts" not in raw:
        raise DataError([Defect(f"{source}/accounts", None, None, None, "is missing: the accounts table is required")])
    defects: list[Defect] = []
    tables: dict[str, ir.Table] = {}
    extras: dict[str, list[str]] = {}
    for name, t in raw.items():
        try:
            tables[name] = conform(t, TABLES[name], config)
        except DataError as exc:
            defects += [Defect(f"{source}/{name}", d.row, d.column, d.value, d.expected) for d in exc.defects]
            continue
        extras[name] = [c for c in t.columns if c not in TABLES[name].column_names]
    if defects:
        raise DataError(defects)
    return Dataset(backend, tables, config, source, extras)


def conform(t: ir.Table, spec: TableSpec, config: Config) -> ir.Table:
    """``t`` with the contract's columns and types (SPEC section 4), for inputs not validated row by row.

    Required columns must be present; absent optional ones get their default;
    text is trimmed (empty = null), enums lower-cased, currencies upper-cased;
    ``date`` columns take the UTC date of a timestamp. Extra columns are kept.
    """
    missing = [c for c in spec.required if c not in t.columns]
    if missing:
        raise DataError([Defect(spec.name, 1, c, None, "is missing: required column") for c in missing])
    cols: dict[str, ir.Value] = {}
    for col in spec.columns:
        if col.name not in t.columns:
            if col.name == "currency":
                cols[col.name] = ibis.literal(config.base_currency)
            else:
                cols[col.name] = ibis.literal(col.default, _IBIS_TYPE[col.type]) if col.default is not None \
                    else ibis.null(_IBIS_TYPE[col.type])
            continue
        x = t[col.name]
        if x.type().is_string():
            x = x.strip().nullif("")
        if col.type == "string":
            v: ir.Value = x.cast("string").strip().nullif("")
            if col.lower_case:
                v = v.lower()
            if col.name == "currency":
                v = v.upper().fill_null(config.base_currency)
        elif col.type in ("date", "timestamp"):
            # Through a UTC timestamp, so "2025-01-31T23:30:00-05:00" counts on 1 February (SPEC section 5).
            # Naive timestamps are taken as UTC (the session's zone on both engines).
            if x.type().is_date():
                v = x if col.type == "date" else x.cast(dt.Timestamp())
            else:
                utc = x.cast(dt.Timestamp(timezone="UTC"))
                v = utc.cast("date") if col.type == "date" else utc.cast(dt.Timestamp())
        elif col.type == "integer":
            v = x.cast("float64").cast("int64")
        else:
            v = x.cast("float64")
        if col.default is not None and col.type != "string":
            v = v.fill_null(col.default)
        elif col.default is not None:
            v = v.fill_null(str(col.default))
        cols[col.name] = v
    extra = [c for c in t.columns if c not in spec.column_names]
    return t.select(**cols, **{c: t[c] for c in extra})


_IBIS_TYPE = {"string": "string", "date": "date", "timestamp": "timestamp", "double": "float64", "integer": "int64"}


def release(backend: Any, table: ir.Table) -> None:
    """Free what :func:`materialise` made of ``table`` (its temp table or cached DataFrame)."""
    if isinstance(table, ir.CachedTable):
        table.release()
        return
    if getattr(backend, "name", "") == "duckdb":
        name = str(table.op().name).replace('"', '""')  # type: ignore[attr-defined]
        backend.raw_sql(f'DROP TABLE IF EXISTS temp.main."{name}"')


def materialise(backend: Any, name: str, expr: ir.Table) -> ir.Table:
    """``expr`` computed once and kept for the rest of the run, as ``name``.

    A temp table on SQL backends; on Spark, which has no temp tables, a cached
    DataFrame behind a temp view (filled on first use, dropped on disconnect).
    """
    if getattr(backend, "name", "") != "pyspark":
        try:
            return backend.create_table(name, expr, temp=True)  # type: ignore[no-any-return]
        except NotImplementedError:
            # A backend without temp tables (Trino, some warehouses): recompute instead.
            return expr
    # Ibis's own Spark cache skips registering in-memory tables (the periods
    # memtable) before running the query; do it first.
    backend._run_pre_execute_hooks(expr)
    # On this backend (not the default one a table of only in-memory data would get).
    return backend._cached_table(expr)  # type: ignore[no-any-return]
