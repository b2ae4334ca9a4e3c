from .config import DictionaryConfig
from .hough_config import HoughConfig
from .hough_run import hough_run, hough_scan
from .run import index_run, index_scan

__all__ = ["DictionaryConfig", "HoughConfig", "hough_run", "hough_scan", "index_run", "index_scan"]
