"""Matplotlib figures for jaxneuro (imported on demand: ``import jaxneuro.plot``).

Each function takes arrays (or jaxneuro results) and an optional ``ax`` and returns the axes.
"""

# Re-exports, one block per module (each module owns its block):
# [plot:neurons]
from ._neurons import plot_gates as plot_gates, plot_trace as plot_trace, plot_tuning_curve as plot_tuning_curve

# [plot:synapses]
from ._synapses import (
    plot_filtered_spikes as plot_filtered_spikes,
    plot_membrane_traces as plot_membrane_traces,
    plot_psc_kernels as plot_psc_kernels,
    plot_raster as plot_raster,
)

# [plot:learning]
from ._learning import (
    plot_confusion_matrix as plot_confusion_matrix,
    plot_learning_curves as plot_learning_curves,
    plot_misclassified as plot_misclassified,
    plot_regression_fit as plot_regression_fit,
    save_learning_curves as save_learning_curves,
)
from ._learning_models import (
    plot_activations as plot_activations,
    plot_uat_approximant as plot_uat_approximant,
    plot_uat_error as plot_uat_error,
)

# [plot:scaling]
from ._scaling import plot_tuning_surface as plot_tuning_surface
