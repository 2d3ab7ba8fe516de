"""Telemetry: parse events from real sources into one ECS-named model (countermeasures 3, 6).

Events are flat dictionaries keyed by ECS field names (``process.executable``), see
:mod:`maat.telemetry.model`. Source parsers live in one module each; :mod:`.dispatch` picks
the parser for each record or file, and :mod:`.pipeline` turns raw bytes into events and
located errors, losing nothing.
"""
