"""Every SQL statement of Milestone, grouped by aggregate, parameterised.

Each function takes a Connection (the service that calls it owns the transaction) and returns
a DataFrame, a dataclass or a plain value. Nothing here checks roles, limits writes or words a
result for a person: that is milestone.services. Problems a person can act on are raised as
the domain errors of milestone.errors.
"""
