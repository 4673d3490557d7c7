"""The public API of ``jaxneuro.train`` (read by ``lazy_loader`` at run time and by type
checkers; see ``__init__.py``)."""

from ._checkpoint import (
    TrainState as TrainState,
)
from ._checkpoint import (
    has_checkpoint as has_checkpoint,
)
from ._checkpoint import (
    load_checkpoint as load_checkpoint,
)
from ._checkpoint import (
    save_checkpoint as save_checkpoint,
)
from ._config import (
    Config as Config,
)
from ._config import (
    ConfigError as ConfigError,
)
from ._config import (
    DataConfig as DataConfig,
)
from ._config import (
    ModelConfig as ModelConfig,
)
from ._config import (
    OptimizerConfig as OptimizerConfig,
)
from ._config import (
    SpikingConfig as SpikingConfig,
)
from ._config import (
    config_from_dict as config_from_dict,
)
from ._config import (
    load_config as load_config,
)
from ._config import (
    parse_override as parse_override,
)
from ._fit import (
    Dataset as Dataset,
)
from ._fit import (
    NonFiniteLossError as NonFiniteLossError,
)
from ._fit import (
    TrainResult as TrainResult,
)
from ._fit import (
    fit as fit,
)
from ._fit import (
    init_state as init_state,
)
from ._fit import (
    load_data as load_data,
)
from ._fit import (
    make_model as make_model,
)
from ._fit import (
    make_optimizer as make_optimizer,
)
from ._fit import (
    make_schedule as make_schedule,
)
from ._fit import (
    task_functions as task_functions,
)
from ._fit import (
    with_hidden_activation as with_hidden_activation,
)
from ._metrics import confusion_matrix as confusion_matrix
from ._spiking import (
    evaluate_spiking as evaluate_spiking,
)
from ._spiking import (
    load_run as load_run,
)
from ._step import (
    batch_loss_and_score as batch_loss_and_score,
)
from ._step import (
    epoch_batches as epoch_batches,
)
from ._step import (
    make_evaluate as make_evaluate,
)
from ._step import (
    make_train_epoch as make_train_epoch,
)
from ._step import (
    make_train_step as make_train_step,
)
