"""The lab's Proxmox VE twin: fakepve seeded as a small PVE 9 cluster, with named faults and a control API.

AGPL-3.0-or-later (see LICENSE-NOTICE.md): it imports fakepve, and runs only as its own process
(`python -m lab.pve_twin`, started by `python -m lab up`) under .venv-lab.
"""
