"""The one exception of the report export."""


class ReportError(Exception):
    """An export failed for a reason the user can fix; the message says how."""
