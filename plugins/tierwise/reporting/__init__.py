"""Reports people look at: self-contained HTML pages of charts with their numbers beside them.

:mod:`~tierwise.reporting.charts` draws (SVG strings), :mod:`~tierwise.reporting.page` lays out
sections into one offline page, and :mod:`~tierwise.reporting.run_report` reads a run's marts and
ops tables into the run report.
"""
