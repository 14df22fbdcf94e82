"""Console accounts: users, project roles, sessions, login throttling and the audit log."""
