"""HTML reports (demo, monitor, training cards): jinja2 templates on one base and one stylesheet.

The modules that build a report keep computing its rows and plots; this package only renders
them. Templates and the stylesheet are package data in ``templates/``.
"""

from streams.reports.render import render, write_page

__all__ = ["render", "write_page"]
