"""Kubernetes resource quantities as numbers."""
from __future__ import annotations

from kubernetes.utils import parse_quantity


def cpu_millicores(quantity: str) -> int:
    """"2" -> 2000, "1500m" -> 1500."""
    return int(parse_quantity(quantity) * 1000)


def byte_count(quantity: str) -> int:
    """"10Gi" -> 10737418240."""
    return int(parse_quantity(quantity))
