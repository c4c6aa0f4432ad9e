"""Dev tooling of Tierwise: the sample generator, the demo, the benchmark and a local Airflow.

Kept out of the runtime package (``plugins/tierwise``) so that neither its wheel nor the Docker
image carries them; it depends on ``tierwise``, never the other way round. Command:
``tierwise-dev generate|demo|bench``.
"""
