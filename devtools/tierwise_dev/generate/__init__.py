"""Sample data generator: realistic, deterministic daily exports of orders, contacts and tickets.

``generate()`` writes ``OUT/{orders,contacts,tickets}/<entity>_YYYY-MM-DD.csv``
(one file per day of the window, holding the record versions updated that
day) and ``OUT/manifest.json`` with the parameters and the truth that a
pipeline run must reconcile to. See docs/contracts.md.
"""

from tierwise_dev.generate.core import GenerationResult, generate
from tierwise_dev.generate.dirty import DIRTY_KINDS, PASSING_KINDS

__all__ = ["DIRTY_KINDS", "PASSING_KINDS", "GenerationResult", "generate"]
