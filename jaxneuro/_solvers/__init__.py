"""Spiking solvers (small final classes behind ``AbstractSpikingSolver``) and recorders."""

from ._base import AbstractSpikingSolver as AbstractSpikingSolver
from ._base import CoarseStepWarning as CoarseStepWarning
from ._base import Interval as Interval
from ._diffrax import Diffrax as Diffrax
from ._exp_euler import Euler as Euler
from ._exp_euler import ExponentialEuler as ExponentialEuler
from ._exp_midpoint import ExpMidpointHH as ExpMidpointHH
from ._exp_midpoint import hh_exp_midpoint_update as hh_exp_midpoint_update
from ._fixed_step import RK4 as RK4
from ._fixed_step import AbstractFixedStepSolver as AbstractFixedStepSolver
from ._lif import ExactLIF as ExactLIF
from ._lif import SteppedLIF as SteppedLIF
from ._recorders import (
    AbstractRecorder as AbstractRecorder,
)
from ._recorders import (
    SpikeStats as SpikeStats,
)
from ._recorders import (
    SpikeTimes as SpikeTimes,
)
from ._recorders import (
    StatsState as StatsState,
)
