"""Type aliases shared across jaxneuro (jaxtyping shapes)."""

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, Real

RealScalarLike = float | int | np.floating | np.integer | Float[ArrayLike, ""]
"""A real scalar: a Python number or a 0-d array."""

StaticReal: TypeAlias = float | int | np.floating | np.integer
"""A real number known on the host (static: it sets a step, a loop length or a shape), a Python or
numpy number, e.g. ``dt = 1e-4`` or ``dt = 1``."""

Scalar = Float[Array, ""]
BoolScalar = Bool[Array, ""]
IntScalar = Int[Array, ""]

ParamArray: TypeAlias = Array | np.ndarray
"""A JAX array, or a numpy array for numbers known on the host: a parameter field after the
``as_float_array`` converter (so that a neuron built inside ``jit`` keeps concrete parameters),
and what is computed from such fields and host numbers alone.  Annotate such fields
``Float[ParamArray, "*shape"]``."""

RealSequence: TypeAlias = Sequence[float | int] | Sequence[Sequence[float | int] | Real[ArrayLike, " _"]]
"""Array input written as a Python list (1-d or 2-d) of numbers, e.g. spike times ``[0.1, 0.2]``,
or as a list of 1-d arrays (its rows, e.g. one array of spike times per train): accepted where
the function converts its input with ``jnp.asarray``.  (jaxtyping checks no shape in a list; the
function's own checks do, and ``jnp.asarray`` rejects rows of different lengths.)"""

__all__ = [
    "Array",
    "ArrayLike",
    "Bool",
    "Float",
    "Int",
    "ParamArray",
    "RealScalarLike",
    "RealSequence",
    "Scalar",
    "StaticReal",
]
