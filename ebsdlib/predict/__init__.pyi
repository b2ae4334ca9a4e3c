from ._map import predict_scan, summarize_phasemap

__all__ = ["predict_scan", "summarize_phasemap"]
