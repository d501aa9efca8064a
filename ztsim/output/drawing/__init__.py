"""Drawings computed in Python: a layered layout (:mod:`.layout`), SVG (:mod:`.svg`),
attack plans as figures (:mod:`.attack`) and as Mermaid (:mod:`.mermaid`)."""
