"""Type aliases shared across jaxneuro (jaxtyping shapes)."""

import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

RealScalarLike = float | int | np.floating | np.integer | Float[ArrayLike, ""]
"""A real scalar: a Python number or a 0-d array."""

Scalar = Float[Array, ""]
BoolScalar = Bool[Array, ""]
IntScalar = Int[Array, ""]

__all__ = ["Array", "ArrayLike", "Bool", "Float", "Int", "RealScalarLike", "Scalar"]
