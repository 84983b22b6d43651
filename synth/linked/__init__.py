"""Linked tables and event sequences: several tables under one subject, generated together.

`data` reads the tables, checks their keys and splits them by subject; `engine` is the
autoregressive engine's sequential mode (parents first, then each parent's children).
"""
