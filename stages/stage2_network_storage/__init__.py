"""Stage 2: network and storage configuration (read-only)."""
