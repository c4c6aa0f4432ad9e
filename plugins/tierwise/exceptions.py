"""Exceptions raised by Tierwise; each stage fails with one of these."""


class TierwiseError(Exception):
    """Base class for every error Tierwise raises on purpose."""


class ConfigError(TierwiseError):
    """A source, rule or settings file is invalid; the message names file and key."""


class IngestError(TierwiseError):
    """A source could not be loaded (missing file, missing required column...)."""


class BuildError(TierwiseError):
    """dbt build failed (a model or a test)."""


class QualityGateError(TierwiseError):
    """A Great Expectations suite failed on the data: the gate is closed."""


class ValidationRunError(TierwiseError):
    """A validation could not run (an exception inside GX): neither pass nor data failure."""


class PublishError(TierwiseError):
    """Publishing to a destination failed."""


class GateNotPassedError(PublishError):
    """Publishing refused: the marts gate failed on the current marts, or has not run on them."""
