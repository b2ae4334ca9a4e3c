from .blocks import Figure, Legend, Report, Section, Table, Text
from .build import build_report
from .document import report_html, write_report

__all__ = ["Figure", "Legend", "Report", "Section", "Table", "Text", "build_report", "report_html", "write_report"]
