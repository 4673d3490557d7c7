"""Training from configs (imported on demand: ``import jaxneuro.train``).

``load_config`` reads a TOML config into a frozen, validated :class:`Config`; ``fit`` runs
it: jit-compiled epochs (one ``lax.scan`` each) of shuffled minibatches, evaluation,
metrics (JSON lines), a learning-curve PNG, atomic checkpoints and exact resumption.  The
command line is ``jaxneuro train CONFIG [--out DIR] [--resume] [key=value ...]``.

Names are imported on first use (``lazy_loader``, from ``__init__.pyi``): the command line
builds its parser without loading JAX.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
