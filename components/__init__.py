"""Pulumi components of exo-automation: one concern per module."""
