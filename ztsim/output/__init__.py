"""Every renderer: console text, tables, JSON, graph export, CI reports, and the
safe writing of output files.  The only layer below the faces that imports rich.
"""
