from .config import DictionaryConfig
from .run import index_run, index_scan

__all__ = ["DictionaryConfig", "index_run", "index_scan"]
