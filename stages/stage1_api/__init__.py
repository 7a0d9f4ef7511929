"""Stage 1: Proxmox API connection (read-only)."""
