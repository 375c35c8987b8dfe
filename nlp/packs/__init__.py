"""Corridor packs shipped with RouteWatch (data only: one folder of YAML rule files per corridor)."""
