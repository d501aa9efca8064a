"""Drawings computed in Python: a layered layout (:mod:`.layout`), SVG (:mod:`.svg`),
attack plans as figures (:mod:`.attack`), as Mermaid (:mod:`.mermaid`) and as
box-drawing text for terminals (:mod:`.text`, the TUI's path detail, drawing
:mod:`.picture`'s description of a plan)."""
