"""Kubernetes clients: kinds, paths and error translation live here, never in tests."""
