"""Logging filters that keep personal data out of the logs of every process."""

from __future__ import annotations

import logging
import traceback

# PostgreSQL adds these lines to an error's message. They quote the values of the failing row:
# "DETAIL:  Key (email)=(jan@example.nl) already exists." or
# "CONTEXT:  COPY leads, line 3, column last_name: "Jansen"".
VALUE_LINES = ("DETAIL:", "CONTEXT:")


class DatabaseErrorValues(logging.Filter):
    """Remove the DETAIL and CONTEXT lines of database errors from logged tracebacks.

    The engine's `hide_parameters` keeps SQLAlchemy from printing a statement's parameters,
    but the server's own message can still quote a failing value, such as a lead's e-mail
    address. A record keeps its exception, with these lines cut from its text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and record.exc_text is None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if any(marker in text for marker in VALUE_LINES):
                record.exc_text = "\n".join(
                    line if not line.lstrip().startswith(VALUE_LINES) else "(value lines of the database error left out)"
                    for line in text.splitlines()
                )
        return True
