"""Matplotlib figures for jaxneuro (imported on demand: ``import jaxneuro.plot``).

Each function takes arrays (or jaxneuro results) and an optional ``ax`` and returns the axes.
"""
# Re-exports, one block per module (each module owns its block):
# [plot:neurons]
# [plot:synapses]
# [plot:learning]
from ._learning import (
    plot_confusion_matrix as plot_confusion_matrix,
    plot_learning_curves as plot_learning_curves,
    save_learning_curves as save_learning_curves,
)
