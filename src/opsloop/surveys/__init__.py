"""Surveys: definitions, targeting and delivery, responses, and results (NPS, CSAT, choices, open text)."""
