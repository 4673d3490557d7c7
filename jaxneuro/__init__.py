"""jaxneuro: neuron models and neural learning in JAX.

A flat public API: everything a user needs is importable from ``jaxneuro``.  Heavy or
optional parts (plots, training, data) live in subpackages imported on demand.

Names are imported on first use (``lazy_loader``, from the list in ``__init__.pyi``), so that
``import jaxneuro`` and the command line's ``--help`` do not wait for JAX to load.  Set
``EAGER_IMPORT=1`` to import everything at once (to find an import error early).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)

__version__ = "0.1.0"
