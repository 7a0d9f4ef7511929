"""The lab's CozyStack management cluster and a tenant cluster, with Cluster API, CAPMOX, in-cluster IPAM,
kubeadm bootstrap, MachineHealthCheck and kubelet controllers driving the Proxmox twin over HTTPS.
`python -m lab.cluster` runs it; see README.md.
"""
