"""Exceptions whose messages say what was expected, where we looked, and how to fix it."""


class ASGError(Exception):
    """Base class of asg-gym's own errors."""


class MissingDependencyError(ASGError, ImportError):
    """An optional package is needed; the message names the extra that installs it."""


class MissingWeightsError(ASGError, FileNotFoundError):
    """Pretrained weights are missing or do not fit the architecture."""


class DatasetError(ASGError, ValueError):
    """A data folder, list file or image is missing or malformed."""
