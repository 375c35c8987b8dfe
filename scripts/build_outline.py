"""Build routewatch/web/static/outline.json, the offline base map of the route map, from the Natural Earth
110m country outlines in the npm package world-atlas@2.0.2 (TopoJSON; public domain data).

In: the path of world-atlas's countries-110m.json (`npm pack world-atlas@2.0.2`, then untar).
Out: JSON {"source", "licence", "rings": [[[lon, lat], ...], ...]} with coordinates rounded to 0.1 degree
rings of fewer than 4 distinct points and rings
that jump across the antimeridian (Fiji, Chukotka, Antarctica) dropped. Run by hand; the output is committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "routewatch" / "web" / "static" / "outline.json"


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """TopoJSON arcs are quantised and delta-encoded: undo both into lon/lat lists."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], refs: list[int]) -> list[tuple[float, float]]:
    """A ring from its arc references (a negative ref ~i is arc i reversed); shared end points once."""
    pts: list[tuple[float, float]] = []
    for r in refs:
        a = arcs[r] if r >= 0 else arcs[~r][::-1]
        pts.extend(a if not pts else a[1:])
    return pts


def build(path: Path) -> dict:
    topo = json.loads(path.read_text(encoding="utf-8"))
    arcs = decode_arcs(topo)
    rings = []
    for g in topo["objects"]["countries"]["geometries"]:
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]] if g["type"] == "Polygon" else []
        for poly in polys:
            for refs in poly[:1]:  # outer ring only: holes are lakes and enclaves, invisible at this scale
                pts = []
                for lon, lat in ring(arcs, refs):
                    p = [round(lon, 1), round(lat, 1)]
                    if not pts or pts[-1] != p:
                        pts.append(p)
                jumps = any(abs(a[0] - b[0]) > 180 for a, b in zip(pts, pts[1:], strict=False))
                if len({tuple(p) for p in pts}) >= 4 and not jumps:  # rings cut at the antimeridian: left out
                    rings.append(pts)
    return {"source": "Natural Earth 1:110m countries via npm world-atlas@2.0.2 (countries-110m.json)",
            "licence": "Natural Earth data: public domain", "rings": rings}


if __name__ == "__main__":
    data = build(Path(sys.argv[1]))
    OUT.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    print(f"{OUT}: {len(data['rings'])} rings, {OUT.stat().st_size} bytes")
