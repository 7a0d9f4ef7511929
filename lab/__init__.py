"""The embedded lab, started and stopped by `python -m lab` (see lab/README.md).

Only lab/pve_twin/ imports fakepve (AGPL-3.0), and it runs as its own process under .venv-lab. The
command line (cli, launcher, control_client, settings) uses the standard library only and reaches the
twin over HTTP(S).
"""
