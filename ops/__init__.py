"""The application layer: use-cases between the pages (and the HTTP handlers) and the domain.

Each use-case takes the acting user (or client), checks the permission in the matrix
(``auth.permissions``), runs in one transaction, writes the audit event in that transaction and
returns typed records. Views call only this package; they never open a database connection.
"""
