"""The training progress display: jaxneuro's tqdm bar (``jaxneuro._progress``), one step per epoch,
with the last epoch's metrics after it."""

from __future__ import annotations

from typing import Any

from .._progress import ProgressBar, TextStream

_SHOWN = (
    ("train_loss", "loss", "{:.4g}"),
    ("train_accuracy", "acc", "{:.2%}"),
    ("train_mse", "mse", "{:.3g}"),
    ("test_loss", "test loss", "{:.4g}"),
    ("test_accuracy", "test acc", "{:.2%}"),
    ("test_mse", "test mse", "{:.3g}"),
)


def metrics_text(metrics: dict[str, Any]) -> str:
    """``loss 0.1234  acc 95.00%  test acc 94.10%`` from an epoch's metrics (missing keys left out)."""
    parts = []
    for key, label, fmt in _SHOWN:
        if metrics.get(key) is not None:
            parts.append(f"{label} {fmt.format(metrics[key])}")
    return "  ".join(parts)


def epoch_bar(total: int, done: int, stream: TextStream | None) -> ProgressBar:
    """The bar of a run of ``total`` epochs of which ``done`` are already done (a resumed run)."""
    return ProgressBar(total=total, initial=done, unit="epoch", desc="epochs", stream=stream)
