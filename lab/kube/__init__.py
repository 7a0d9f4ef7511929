"""The lab's Kubernetes API server: an in-memory Store with the API server's semantics, served over HTTPS.

store.Store holds one cluster's objects and is what in-process controllers use; api.ApiServer translates
the Kubernetes REST API onto it; server.KubeServer runs it on a loopback address and writes a kubeconfig.
`python -m lab.kube` runs one on its own. See README.md.
"""
