"""The lab's monitoring stack, run by `python -m lab.monitoring` with the lab's Python (see README.md here).

Real VictoriaMetrics, vmagent, vmalert (Debian) and prometheus-pve-exporter (PyPI) as child processes, plus the
lab's own stand-ins for VictoriaLogs and Grafana. Reaches the Proxmox twin only over HTTPS; imports no fakepve.
"""
