"""The telemetry lake adapter: Parquet files on a local file system, queried with DuckDB."""

from __future__ import annotations

from maat.adapters.lake.parquet import ParquetLake, RecoveryReport, lake_key

__all__ = ["ParquetLake", "RecoveryReport", "lake_key"]
