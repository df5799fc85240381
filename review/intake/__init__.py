"""Bulk case intake file utilities: reading uploads, the blank template and error reports, free of web and database code."""
