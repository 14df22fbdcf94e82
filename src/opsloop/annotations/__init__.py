"""Annotations: dated notes on a project's charts (a shipped requirement, a release, an incident...)."""
