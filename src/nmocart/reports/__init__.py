"""Adapters that render results for people: terminal checklists, HTML pages, CSV tables and plots."""
