"""The telemetry lake's pure core: column plan, hash-chained manifest, retention.

Events are stored as Parquet files partitioned by day and module
(``day=YYYY-MM-DD/module=<m>/part-<seq>-<uuid>.parquet``), each listed in an HMAC-chained
manifest with its SHA-256; only listed files are queried. The adapter that does the I/O is
:class:`maat.adapters.lake.parquet.ParquetLake`; the value types it returns live here.
"""

from __future__ import annotations

from maat.lake.manifest import (
    LakeFinding,
    LakeReport,
    LakeStats,
    ManifestEntry,
    compare,
    parse_anchor,
    read_manifest,
    verify_manifest,
)
from maat.lake.retention import MIN_RETENTION_DAYS, Hold, KeptFile, RetentionPlan, RetentionReport
from maat.lake.schema import COLUMN_NAMES, COLUMNS, QueryResult, check_read_only_sql, to_columns

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "MIN_RETENTION_DAYS",
    "Hold",
    "KeptFile",
    "LakeFinding",
    "LakeReport",
    "LakeStats",
    "ManifestEntry",
    "QueryResult",
    "RetentionPlan",
    "RetentionReport",
    "check_read_only_sql",
    "compare",
    "parse_anchor",
    "read_manifest",
    "to_columns",
    "verify_manifest",
]
