"""Stage 7: Monitoring and logging (read-only)."""
