"""Loss functions as a namespace: ``jaxneuro.losses.mse``, ``jaxneuro.losses.categorical_cross_entropy``, ...

The same functions are re-exported flat from ``jaxneuro``; see ``jaxneuro._losses``, and
``jaxneuro._spike_losses`` for the spike-time losses, readouts and regularisers
(``first_spike_cross_entropy``, ``spike_count_cross_entropy``, ``firing_rate_penalty``, ...).
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
from ._spike_losses import (
    check_spikes as check_spikes,
)
from ._spike_losses import (
    firing_rate_penalty as firing_rate_penalty,
)
from ._spike_losses import (
    first_spike_cross_entropy as first_spike_cross_entropy,
)
from ._spike_losses import (
    first_spike_times as first_spike_times,
)
from ._spike_losses import (
    late_spike_penalty as late_spike_penalty,
)
from ._spike_losses import (
    leaky_readout as leaky_readout,
)
from ._spike_losses import (
    max_over_time_cross_entropy as max_over_time_cross_entropy,
)
from ._spike_losses import (
    silent_neuron_penalty as silent_neuron_penalty,
)
from ._spike_losses import (
    spike_count_cross_entropy as spike_count_cross_entropy,
)
from ._spike_losses import (
    spike_count_mse as spike_count_mse,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "categorical_cross_entropy_with_integer_labels",
    "categorical_cross_entropy_with_logits",
    "check_spikes",
    "firing_rate_penalty",
    "first_spike_cross_entropy",
    "first_spike_times",
    "late_spike_penalty",
    "leaky_readout",
    "log_softmax",
    "max_over_time_cross_entropy",
    "mean_loss",
    "mse",
    "silent_neuron_penalty",
    "spike_count_cross_entropy",
    "spike_count_mse",
]
