"""Training from configs (imported on demand: ``import jaxneuro.train``).

``load_config`` reads a TOML config into a frozen, validated :class:`Config`; ``fit`` runs
it: jit-compiled epochs (one ``lax.scan`` each) of shuffled minibatches, evaluation,
metrics (JSON lines), a learning-curve PNG, atomic checkpoints and exact resumption.  The
command line is ``jaxneuro train CONFIG [--out DIR] [--resume] [key=value ...]``.
"""

from ._checkpoint import (
    TrainState as TrainState,
    has_checkpoint as has_checkpoint,
    load_checkpoint as load_checkpoint,
    save_checkpoint as save_checkpoint,
)
from ._config import (
    Config as Config,
    ConfigError as ConfigError,
    DataConfig as DataConfig,
    ModelConfig as ModelConfig,
    OptimizerConfig as OptimizerConfig,
    config_from_dict as config_from_dict,
    load_config as load_config,
    parse_override as parse_override,
)
from ._fit import (
    Dataset as Dataset,
    NonFiniteLossError as NonFiniteLossError,
    TrainResult as TrainResult,
    fit as fit,
    init_state as init_state,
    load_data as load_data,
    make_model as make_model,
    make_optimizer as make_optimizer,
    make_schedule as make_schedule,
    task_functions as task_functions,
    with_hidden_activation as with_hidden_activation,
)
from ._metrics import confusion_matrix as confusion_matrix
from ._step import (
    batch_loss_and_score as batch_loss_and_score,
    epoch_batches as epoch_batches,
    make_evaluate as make_evaluate,
    make_train_epoch as make_train_epoch,
    make_train_step as make_train_step,
)
