"""Pulumi components of exo-automation: one concern per module, each declaring Azure or Entra resources."""
