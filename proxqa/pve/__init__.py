"""Proxmox VE clients: paths, field names, units and error translation live here, never in tests."""
