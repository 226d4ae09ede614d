"""Importers and the demo-city builder."""
