"""Matplotlib figures for jaxneuro (imported on demand: ``import jaxneuro.plot``).

Each function takes arrays (or jaxneuro results) and an optional ``ax`` and returns the axes.
"""
# Re-exports, one block per module (each module owns its block):
# [plot:neurons]
# [plot:synapses]
# [plot:learning]
