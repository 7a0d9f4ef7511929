"""Clients of the monitoring stack's HTTP APIs (CozyStack: VictoriaMetrics, vmagent, vmalert,
VictoriaLogs, Grafana).

`http.py` owns requests, retries and errors; `records.py` the typed answers; `clients.py` one class per API;
`proxmox.py` the Proxmox series (prometheus-pve-exporter, CSI and CCM) and the SLIs computed from them.
"""
