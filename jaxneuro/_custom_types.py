"""Type aliases shared across jaxneuro (jaxtyping shapes)."""

from typing import TypeAlias

import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

RealScalarLike = float | int | np.floating | np.integer | Float[ArrayLike, ""]
"""A real scalar: a Python number or a 0-d array."""

Scalar = Float[Array, ""]
BoolScalar = Bool[Array, ""]
IntScalar = Int[Array, ""]

ParamArray: TypeAlias = Array | np.ndarray
"""A JAX array, or a numpy array for numbers known on the host: a parameter field after the
``as_float_array`` converter (so that a neuron built inside ``jit`` keeps concrete parameters),
and what is computed from such fields and host numbers alone.  Annotate such fields
``Float[ParamArray, "*shape"]``."""

__all__ = ["Array", "ArrayLike", "Bool", "Float", "Int", "ParamArray", "RealScalarLike", "Scalar"]
