"""People and rights: accounts, password hashing, sessions, roles and the permission matrix.

Pure parts (``permissions``, ``passwords``, ``model``) import no database code; ``repo`` holds
the SQL; ``service`` the rules of accounts and sessions (it takes an open connection: the
application layer ``ops`` owns the transaction and writes the audit event).
"""
