"""Quiet command lines: filters for third-party messages that say nothing to a jaxneuro user.

Called by the command-line entry points only (``jaxneuro ...``, ``python -m jaxneuro.train``,
``python -m jaxneuro.data``), never on ``import jaxneuro``: a library must not change a
process's logging behind its user's back, a command line owns its process.  Each filter drops
one known message and nothing else; the causes that are jaxneuro's are fixed where they arise.
"""

from __future__ import annotations

import logging


class _DropMessages(logging.Filter):
    def __init__(self, *prefixes: str):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to judge: let it through
            return True
        return not message.startswith(self.prefixes)


# tensorflow-datasets (through absl logging, logger "absl") when it decodes an image with PIL:
# "OpenCV is not installed. We recommend using OpenCV because it is faster ...".  Not ours: PIL is
# the decoder jaxneuro asks for (OpenCV is not a dependency), and reading MNIST is not the slow
# part of a training run.
_ABSL_FILTER = _DropMessages("OpenCV is not installed.")


def quiet_third_party() -> None:
    """Install the filters (idempotent)."""
    try:  # absl (a dependency of tensorflow-datasets) first, so that it creates its own "absl" logger
        import absl.logging  # noqa: F401
    except ImportError:
        return
    absl_logger = logging.getLogger("absl")
    if _ABSL_FILTER not in absl_logger.filters:
        absl_logger.addFilter(_ABSL_FILTER)
