from .checks import FORMAT_VERSION, DataFormatError
from .format import EBSDDataset, create_dataset, write_dataset
from .preprocess import PreprocessConfig, preprocess_batch
from .readers import load

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
