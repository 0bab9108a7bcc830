"""Service-level (SLA) deadlines measured in the team's working time."""
