"""Machine tuning that changes process-wide settings: never done by ``import jaxneuro``.

``enable_cpu_loop_kernels()`` sets ``XLA_FLAGS`` so that XLA's CPU compiler builds each loop
as one kernel (see ``jaxneuro._xla_flags``); call it before any JAX computation, or export
``XLA_FLAGS`` with the string ``cpu_loop_kernel_flags()`` returns.  It changes the whole
process, which is why it lives here and not in ``jaxneuro``'s namespace.

Example::

    import jaxneuro.experimental as jx
    jx.enable_cpu_loop_kernels()
"""

from ._xla_flags import cpu_loop_kernel_flags, cpu_loop_kernels_enabled, enable_cpu_loop_kernels

__all__ = ["cpu_loop_kernel_flags", "cpu_loop_kernels_enabled", "enable_cpu_loop_kernels"]
