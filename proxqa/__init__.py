"""proxqa: the harness behind the Proxmox VE + CozyStack acceptance suite.

Plain library code (no pytest imports outside ``proxqa.plugin``): configuration,
clients, waits, SLA maths, the check catalogue and the report writers.
"""
