"""A plain-text progress bar on stderr (no dependency): one line per epoch, or one line
updated in place when the stream is a terminal."""

from __future__ import annotations

import sys
from typing import IO


class ProgressBar:
    """Shows ``epoch k/N [#####.....] loss ... acc ...`` after each epoch.

    Args:
        total: number of epochs.
        stream: where to write (default ``sys.stderr``); None disables output.
        width: characters of the bar.
    """

    def __init__(self, total: int, stream: IO[str] | None = sys.stderr, width: int = 20):
        self.total = total
        self.stream = stream
        self.width = width
        self.inplace = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        # a log file gets about 25 lines per run, a terminal every update
        self.every = 1 if self.inplace else max(1, total // 25)

    def update(self, epoch: int, metrics: dict[str, float]) -> None:
        """Show the state after ``epoch`` completed epochs with the given metrics."""
        if self.stream is None or (epoch % self.every and epoch != self.total):
            return
        filled = int(round(self.width * epoch / self.total))
        bar = "#" * filled + "." * (self.width - filled)
        parts = [f"epoch {epoch:>{len(str(self.total))}}/{self.total} [{bar}]"]
        for key, label, fmt in (
            ("train_loss", "loss", "{:.4g}"),
            ("train_accuracy", "acc", "{:.2%}"),
            ("train_mse", "mse", "{:.3g}"),
            ("test_loss", "test loss", "{:.4g}"),
            ("test_accuracy", "test acc", "{:.2%}"),
            ("test_mse", "test mse", "{:.3g}"),
            ("epoch_time", "", "{:.2f} s/epoch"),
        ):
            if key in metrics and metrics[key] is not None:
                text = fmt.format(metrics[key])
                parts.append(f"{label} {text}" if label else text)
        line = "  ".join(parts)
        if self.inplace:
            end = "\n" if epoch >= self.total else ""
            self.stream.write("\r\x1b[K" + line + end)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End an in-place line that did not reach the total."""
        if self.stream is not None and self.inplace:
            self.stream.write("\n")
            self.stream.flush()
