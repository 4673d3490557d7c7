"""The one progress display of jaxneuro's long jobs (chunked sweeps, the tuning command, training): tqdm.

* On a terminal, tqdm's bar, updated in place (at most ten times a second).
* On anything else (a log file, a pipe, ``io.StringIO``), no updates while the job runs and one
  final line when it ends (completed, stopped or interrupted), so a log holds one line per job.
* Nothing on processes other than process 0 of a ``jax.distributed`` job (one bar per job, not
  one per process), and nothing for ``stream=None``.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

from tqdm import tqdm


@runtime_checkable
class TextStream(Protocol):
    """A text stream that progress lines are written to (what tqdm uses of it): ``sys.stderr``, an
    open text file, ``io.StringIO``.  (``typing.IO[str]`` asks for more, e.g. the ``buffer`` of a
    binary stream underneath, which ``io.StringIO`` does not have.)"""

    def write(self, s: str, /) -> int: ...

    def flush(self) -> None: ...


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal (``stream.isatty()``; False if it cannot say)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


class ProgressBar(tqdm):
    """``tqdm`` that, on a stream that is not a terminal, writes one line when it is closed
    (its state then: count, elapsed time, rate, postfix) instead of updating in place.

    Use it as a context manager (or call :meth:`close`) so that the final line is written
    also when the job stops early.
    """

    def __init__(self, *args: Any, stream: TextStream | None, **kwargs: Any):
        self._final_line = stream is not None and not is_terminal(stream)
        import jax  # here, not at import: the command line's --help does not wait for JAX

        disable = stream is None or jax.process_index() != 0
        if self._final_line:
            # never displayed while running (delay and mininterval infinite); the overall rate
            # (smoothing 0) goes into the final line
            kwargs.update(delay=math.inf, mininterval=math.inf, smoothing=0.0)
        super().__init__(*args, file=stream, disable=disable, dynamic_ncols=not self._final_line, **kwargs)

    def close(self) -> None:
        if self._final_line and not self.disable:
            self._final_line = False
            self.fp.write(str(self) + "\n")
            self.fp.flush()
        super().close()


def progress_stream(progress: bool | TextStream | None) -> TextStream | None:
    """The stream of a ``progress=`` argument: ``True`` is ``sys.stderr``, a stream itself,
    ``False`` or ``None`` no display."""
    import sys

    if progress is True:
        return sys.stderr
    return progress or None
