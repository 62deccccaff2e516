"""The AI pipeline report: leads, meetings, opportunities, revenue and conversions by AI source, channel
and campaign, computed from the ledger alone (no CRM call), each number traceable to its people."""

from connector.report.build import Report, Row, build_report, list_cell
from connector.report.query import Cell, ReportError, ReportQuery, from_params

__all__ = ["Cell", "Report", "ReportError", "ReportQuery", "Row", "build_report", "from_params", "list_cell"]
