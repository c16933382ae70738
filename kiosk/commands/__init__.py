"""Subcommand modules of cinepass-kiosk; each exposes register(subparsers)."""
