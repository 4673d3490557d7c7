"""The public API of jaxneuro: each name and the module it comes from (read by
``lazy_loader`` at run time and by type checkers; see ``__init__.py``)."""

__version__: str

from ._inputs import (
    AbstractInput as AbstractInput,
    Constant as Constant,
    FunctionInput as FunctionInput,
    PiecewiseConstant as PiecewiseConstant,
    Step as Step,
    as_input as as_input,
)
from ._neurons._base import AbstractNeuron as AbstractNeuron, input_value as input_value
from ._neurons._hh import (
    HHState as HHState,
    HodgkinHuxley as HodgkinHuxley,
    alpha_h as alpha_h,
    alpha_m as alpha_m,
    alpha_n as alpha_n,
    beta_h as beta_h,
    beta_m as beta_m,
    beta_n as beta_n,
    h_inf as h_inf,
    m_inf as m_inf,
    n_inf as n_inf,
    tau_h as tau_h,
    tau_m as tau_m,
    tau_n as tau_n,
)
from ._neurons._lif import (
    LIF as LIF,
    lif_rate as lif_rate,
    lif_subthreshold as lif_subthreshold,
    lif_time_to_threshold as lif_time_to_threshold,
)

# [api:neuron-models]  built-in neurons beyond LIF and HH (one file each in _neurons/)
from ._neurons._adex import AdEx as AdEx, AdExState as AdExState
from ._neurons._eif import EIF as EIF, capped_exp_term as capped_exp_term
from ._neurons._izhikevich import (
    IZHIKEVICH_PRESETS as IZHIKEVICH_PRESETS,
    Izhikevich as Izhikevich,
    IzhikevichState as IzhikevichState,
)
from ._neurons._iaf import IntegrateAndFire as IntegrateAndFire
from ._neurons._qif import QIF as QIF
from ._neurons._traub_miles import TraubMiles as TraubMiles

# [end:neuron-models]
from ._simulate import Simulation as Simulation, simulate as simulate

# [api:solvers]  spiking solvers behind one interface, and recorders
from ._solvers import (
    RK4 as RK4,
    AbstractFixedStepSolver as AbstractFixedStepSolver,
    AbstractRecorder as AbstractRecorder,
    AbstractSpikingSolver as AbstractSpikingSolver,
    CoarseStepWarning as CoarseStepWarning,
    Diffrax as Diffrax,
    Euler as Euler,
    ExactLIF as ExactLIF,
    ExpMidpointHH as ExpMidpointHH,
    ExponentialEuler as ExponentialEuler,
    SpikeStats as SpikeStats,
    SpikeTimes as SpikeTimes,
    SteppedLIF as SteppedLIF,
    hh_exp_midpoint_update as hh_exp_midpoint_update,
)
from ._solvers._sensitivity import MAX_DIRECTIONS as MAX_DIRECTIONS, forward_sensitivities as forward_sensitivities
from ._spikes import SpikeTrain as SpikeTrain
from ._tuning import (
    SpikeStatistics as SpikeStatistics,
    rate_from_stats as rate_from_stats,
    spike_statistics as spike_statistics,
    tuning_curve as tuning_curve,
)

# [api:learning-models]  activations, losses, layers, soft LIF, universal approximation
from . import data as data, experimental as experimental, losses as losses, plot as plot, train as train
from ._activations import (
    ACTIVATION_NAMES as ACTIVATION_NAMES,
    get_activation as get_activation,
    identity as identity,
    leaky_relu as leaky_relu,
    lif_activation as lif_activation,
    logistic as logistic,
    one_hot as one_hot,
    relu as relu,
    soft_lif_activation as soft_lif_activation,
    softmax as softmax,
    tanh as tanh,
)
from ._layers import MLP as MLP, Dense as Dense, augment as augment
from ._losses import (
    binary_cross_entropy as binary_cross_entropy,
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
    categorical_cross_entropy as categorical_cross_entropy,
    categorical_cross_entropy_with_integer_labels as categorical_cross_entropy_with_integer_labels,
    categorical_cross_entropy_with_logits as categorical_cross_entropy_with_logits,
    log_softmax as log_softmax,
    mean_loss as mean_loss,
    mse as mse,
)
from ._spike_losses import (
    check_spikes as check_spikes,
    firing_rate_penalty as firing_rate_penalty,
    first_spike_cross_entropy as first_spike_cross_entropy,
    first_spike_times as first_spike_times,
    late_spike_penalty as late_spike_penalty,
    leaky_readout as leaky_readout,
    max_over_time_cross_entropy as max_over_time_cross_entropy,
    silent_neuron_penalty as silent_neuron_penalty,
    spike_count_cross_entropy as spike_count_cross_entropy,
    spike_count_mse as spike_count_mse,
)
from ._neurons._soft_lif import soft_lif_rate as soft_lif_rate
from ._conversion import (
    SpikingMLP as SpikingMLP,
    SpikingRun as SpikingRun,
    convert_mlp as convert_mlp,
    poisson_spike_train as poisson_spike_train,
    regular_spike_train as regular_spike_train,
)
from ._surrogate import (
    AbstractSurrogate as AbstractSurrogate,
    ArcTan as ArcTan,
    FastSigmoid as FastSigmoid,
    LayerRun as LayerRun,
    simulate_layers as simulate_layers,
)
from ._snn import SpikingClassifier as SpikingClassifier
from ._fitting import (
    FICurveTarget as FICurveTarget,
    FitResult as FitResult,
    SpikeTimesTarget as SpikeTimesTarget,
    default_optimizer as default_optimizer,
    fit_neuron as fit_neuron,
    free_parameter_names as free_parameter_names,
)
from ._uat import (
    StepApproximant as StepApproximant,
    TowerApproximant as TowerApproximant,
    certified_error_bound as certified_error_bound,
    constructive_approximant as constructive_approximant,
    constructive_approximant_nd as constructive_approximant_nd,
    edge_factor as edge_factor,
    error_versus_pieces as error_versus_pieces,
    fit_single_hidden_layer as fit_single_hidden_layer,
    max_error as max_error,
    max_error_nd as max_error_nd,
    mlp_function as mlp_function,
    normalized_soft_lif as normalized_soft_lif,
    pieces_for_tolerance as pieces_for_tolerance,
    rescaled_tanh as rescaled_tanh,
    sigmoid_edge_factor as sigmoid_edge_factor,
)
from ._competitive import (
    CompetitiveResult as CompetitiveResult,
    adjusted_rand_index as adjusted_rand_index,
    competitive_update as competitive_update,
    fit_competitive as fit_competitive,
    kmeans_plus_plus as kmeans_plus_plus,
    winners as winners,
)

# [api:synapses]  kernels, spike trains, filtering, networks
from ._kernels import (
    FAST_SYNAPSE_TAU_S as FAST_SYNAPSE_TAU_S,
    SLOW_SYNAPSE_TAU_S as SLOW_SYNAPSE_TAU_S,
    PSCKernel as PSCKernel,
    psc_kernel as psc_kernel,
)
from ._network._connectivity import (
    AbstractConnectivity as AbstractConnectivity,
    AllToAll as AllToAll,
    FixedInDegree as FixedInDegree,
    FixedOutDegree as FixedOutDegree,
    FixedProbability as FixedProbability,
    FromIndices as FromIndices,
    FromMatrix as FromMatrix,
    OneToOne as OneToOne,
)
from ._network._eventprop import EventResult as EventResult, simulate_lif_events as simulate_lif_events
from ._network._lif_exact import (
    Connection as Connection,
    LIFNetwork as LIFNetwork,
    LIFPopulation as LIFPopulation,
    NetworkResult as NetworkResult,
    NetworkState as NetworkState,
    simulate_lif_network as simulate_lif_network,
)
from ._network._model import (
    Network as Network,
    PoissonInput as PoissonInput,
    PoissonPopulation as PoissonPopulation,
    Population as Population,
    Projection as Projection,
    SpikeSource as SpikeSource,
)
from ._network._standard import (
    BRUNEL_REGIMES as BRUNEL_REGIMES,
    brunel_network as brunel_network,
    coba_network as coba_network,
    cobahh_network as cobahh_network,
    cuba_network as cuba_network,
)
from ._network._simulate import NetworkRun as NetworkRun, RunState as RunState, simulate_network as simulate_network
from ._synapses import (
    AbstractSynapse as AbstractSynapse,
    DeltaSynapse as DeltaSynapse,
    ExponentialConductance as ExponentialConductance,
    ExponentialCurrent as ExponentialCurrent,
    PSCSynapse as PSCSynapse,
)
from ._spikes import filter_spikes as filter_spikes

# [api:scaling]  sharded sweeps, grids, chunked sweeps
from ._chunked import (
    SweepIntegrityWarning as SweepIntegrityWarning,
    chunked_map as chunked_map,
    chunked_tuning_curve as chunked_tuning_curve,
)
from ._grid import ParameterGrid as ParameterGrid, parameter_grid as parameter_grid, tuning_grid as tuning_grid
from ._sharding import (
    batch_mesh as batch_mesh,
    data_parallel_mesh as data_parallel_mesh,
    pad_batch as pad_batch,
    replicate as replicate,
    shard_batch as shard_batch,
    sharded_vmap as sharded_vmap,
)
