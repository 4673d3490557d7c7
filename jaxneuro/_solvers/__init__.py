"""Spiking solvers (small final classes behind ``AbstractSpikingSolver``) and recorders."""

from ._base import AbstractSpikingSolver as AbstractSpikingSolver, Interval as Interval
from ._diffrax import Diffrax as Diffrax
from ._exp_midpoint import ExpMidpointHH as ExpMidpointHH, hh_exp_midpoint_update as hh_exp_midpoint_update
from ._fixed_step import AbstractFixedStepSolver as AbstractFixedStepSolver, RK4 as RK4
from ._lif import ExactLIF as ExactLIF, SteppedLIF as SteppedLIF, lif_stepped_update as lif_stepped_update
from ._recorders import (
    AbstractRecorder as AbstractRecorder,
    SpikeStats as SpikeStats,
    SpikeTimes as SpikeTimes,
    StatsState as StatsState,
)
