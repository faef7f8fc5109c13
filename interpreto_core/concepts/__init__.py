"""Concept-based explanations."""
