"""Data for jaxneuro's learning examples (imported on demand: ``import jaxneuro.data``).

XOR, the 1-D regression sets and Yin-Yang (``yin_yang``, Kriener et al. 2022) are generated
in code.  Image data sets (MNIST, CIFAR-10) are read through tensorflow-datasets'
``data_source`` (array_record, no TensorFlow) and are never downloaded: ``prepare_mnist``
(CLI: ``jaxneuro data prepare mnist --source PATH``) writes the stock tfds ``mnist`` data set
from local files.  tensorflow-datasets is imported only when an image data set is used.

Names are imported on first use (``lazy_loader``, from ``__init__.pyi``): the command line
builds its parser without loading JAX.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
