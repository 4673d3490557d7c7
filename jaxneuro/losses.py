"""Loss functions as a namespace: ``jaxneuro.losses.mse``, ``jaxneuro.losses.categorical_cross_entropy``, ...

The same functions are re-exported flat from ``jaxneuro``; see ``jaxneuro._losses``.
"""

from ._losses import (
    binary_cross_entropy as binary_cross_entropy,
)
from ._losses import (
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
)
from ._losses import (
    categorical_cross_entropy as categorical_cross_entropy,
)
from ._losses import (
    categorical_cross_entropy_with_integer_labels as categorical_cross_entropy_with_integer_labels,
)
from ._losses import (
    categorical_cross_entropy_with_logits as categorical_cross_entropy_with_logits,
)
from ._losses import (
    log_softmax as log_softmax,
)
from ._losses import (
    mean_loss as mean_loss,
)
from ._losses import (
    mse as mse,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "categorical_cross_entropy_with_integer_labels",
    "categorical_cross_entropy_with_logits",
    "log_softmax",
    "mean_loss",
    "mse",
]
