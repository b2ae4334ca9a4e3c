"""Data layer: the HDF5 format, readers behind one :func:`load`, preprocessing and splits."""

from ebsdlib.data.format import (
    FORMAT_VERSION,
    DataFormatError,
    EBSDDataset,
    create_dataset,
    write_dataset,
)
from ebsdlib.data.preprocess import PreprocessConfig, preprocess_batch


def load(path, **kwargs):
    """Open a data set of any supported kind; see :func:`ebsdlib.data.readers.load`."""
    from ebsdlib.data.readers import load as _load

    return _load(path, **kwargs)


__all__ = [
    "FORMAT_VERSION",
    "DataFormatError",
    "EBSDDataset",
    "PreprocessConfig",
    "create_dataset",
    "load",
    "preprocess_batch",
    "write_dataset",
]
