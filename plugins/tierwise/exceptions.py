"""Exceptions raised by Tierwise; each stage fails with one of these."""

from tierwise.masking import mask


class TierwiseError(Exception):
    """Base class for every error Tierwise raises on purpose.

    Its text is masked (secrets, e-mails, phones): messages quote what destinations and data
    sent back, and an exception is printed by the CLI, logged and stored in many places.
    """

    def __str__(self) -> str:
        return mask(super().__str__())


class ConfigError(TierwiseError):
    """A source, rule or settings file is invalid; the message names file and key."""


class IngestError(TierwiseError):
    """A source could not be loaded (missing file, missing required column...)."""


class BuildError(TierwiseError):
    """dbt build failed (a model or a test)."""


class SimulationError(TierwiseError):
    """A what-if simulation could not run, or its proposed rules are invalid (the message says which)."""


class QualityGateError(TierwiseError):
    """A Great Expectations suite failed on the data: the gate is closed."""


class ValidationRunError(TierwiseError):
    """A validation could not run (an exception inside GX): neither pass nor data failure."""


class PublishError(TierwiseError):
    """Publishing to a destination failed."""


class CorruptFileError(IngestError):
    """An export file is damaged (a gzip whose checksum fails); nothing of it is loaded."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}; nothing of this file was loaded (export or copy it again)")
        self.path = path


class WarehouseLockedError(TierwiseError):
    """Another process held the warehouse's DuckDB lock for longer than the lock timeout."""


class GateNotPassedError(PublishError):
    """Publishing refused: the marts gate failed on the current marts, or has not run on them."""
