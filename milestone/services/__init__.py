"""One function per user action, the only way pages and the CLI reach the database.

A service checks the role, counts the write against the limit, runs one transaction (or one
read-only snapshot) through milestone.db, calls the store, and words the result. It raises the
domain errors of milestone.errors, which are the only exceptions pages catch.
"""
