"""The fault matrix: for each check, a lab fault under which it fails, and the words its message must hold.

docs/fault-matrix.md is rendered from this table and a test keeps the two equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FaultRow:
    check: str
    fault: str                                  # NAME[=VALUE] as the lab's control API takes it; "" for none
    expect: str                                 # a regular expression the check's failure message must match
    settings: dict[str, str] = field(default_factory=dict)   # extra settings (environment names) for the run
    options: dict[str, str] = field(default_factory=dict)    # extra `--set key=value` options (keys without env names)
    also: tuple[str, ...] = ()                  # checks that must run first for the fault to show (same stage)

    @property
    def selection(self) -> str:
        """The -k expression selecting the check (and those it needs run with it)."""
        return " or ".join(f"test_{check.lower().replace('.', '_')}_" for check in (*self.also, self.check))

    @property
    def set_args(self) -> list[str]:
        return [arg for key, value in self.options.items() for arg in ("--set", f"{key}={value}")]

    @property
    def id(self) -> str:
        return f"{self.check}:{self.fault}"


ROWS: tuple[FaultRow, ...] = (
    FaultRow("S1.1", "tls-untrusted", r"does not verify"),
    FaultRow("S1.1", "tls-expired", r"expired .* days ago"),
    FaultRow("S1.2", "pve-version=6.4", r"6\.4\S* is below 7\.0"),
    FaultRow("S1.3", "pve-latency=/cluster/resources:2.5", r"SLA breach: api-latency-p95 GET /cluster/resources",
             {"TEST_LATENCY_SAMPLES": "3"}),
    FaultRow("S1.4", "ticket-rejected", r"GET /nodes with the new ticket: HTTP 401"),
    FaultRow("S1.5", "token-rejected", r"with token qa@pve!suite: HTTP 401"),
    FaultRow("S1.6", "auth-accepts-bad-credentials", r"wrong .* got HTTP 200"),
    FaultRow("S1.7", "auth-accepts-forged-ticket", r"forged ticket .* got HTTP 200"),
    FaultRow("S1.8", "pve-node-offline=pve2", r"pve2 is offline"),
    FaultRow("S1.8", "quorum-lost", r"no quorum"),
    FaultRow("S1.9", "token-missing-privilege=capmox:VM.Clone", r"capmox token .* lacks: VM\.Clone on /vms"),
    FaultRow("S2.1", "bridge-not-vlan-aware", r"vmbr0 is not VLAN aware", {"TEST_VLAN_TAG": "100"}),
    FaultRow("S2.1", "bridge-missing=pve3", r"pve3: no interface vmbr0"),
    FaultRow("S2.2", "sdn-missing", r"SDN is required .* 0 zones"),
    FaultRow("S2.3", "vnet-shared-tag", r"tenants tenanta and tenantb share VLAN tag 101"),
    FaultRow("S2.4", "storage-inactive=local-lvm@pve2", r"pve2: storage local-lvm is not active"),
    FaultRow("S2.4", "iso-storage-missing", r"ISO storage local is not active|no active storage carries content iso"),
    FaultRow("S2.5", "storage-full=local-lvm", r"local-lvm is 9\d\.\d % used, above 90 %"),
    FaultRow("S2.6", "template-no-agent", r"guest agent off"),
    FaultRow("S2.6", "template-no-cloudinit", r"no cloud-init drive"),
    FaultRow("S2.7", "node-cpu-hot=pve1", r"pve1: CPU 9\d\.\d % above 80 %"),
    FaultRow("S2.8", "node-net-saturated=pve1", r"pve1: traffic peaked"),
    FaultRow("S3.1", "capi-operator-down", r"capi-operator: 0/1 available"),
    FaultRow("S3.2", "ipam-missing", r"not served: ipaddressclaims"),
    FaultRow("S3.3", "capmox-down", r"capmox-controller-manager not Available"),
    FaultRow("S3.3", "capmox-webhook-broken", r"webhook accepted a ProxmoxMachine with format set"),
    FaultRow("S3.4", "capmox-url-suffix", r"ends with /api2/json"),
    FaultRow("S3.5", "capmox-too-new", r"CAPMOX v0\.8 needs Cluster API >= 1\.11"),
    FaultRow("S3.6", "clone-fails", r"CloningFailed"),
    FaultRow("S3.7", "capmox-iso-leak", r"Proxmox still holds: ISO \S+user-data-\d+\.iso"),
    FaultRow("S3.8", "capmox-errors-hidden", r"failure condition .* not reached within 5 s .* no failure shown",
             options={"waits.stage3/machine-failed": "5"}),
    FaultRow("S4.1", "node-taint-stuck", r"readyReplicas == replicas: not reached within 5 s .*0 of 1 ready",
             options={"waits.stage4/node-ready": "5"}),
    FaultRow("S4.2", "node-taint-left", r"taints: node\.cilium\.io/agent-not-ready:NoSchedule",
             options={"waits.stage4/node-ready": "5"}),
    FaultRow("S4.3", "node-topology-missing", r"no label topology\.kubernetes\.io/region"),
    FaultRow("S4.4", "worker-image-pull-backoff", r"main: (ErrImagePull|ImagePullBackOff): .*pull"),
    FaultRow("S4.5", "scheduler-ignores-resources", r"scheduled onto \S+ although it asks for more CPU"),
    FaultRow("S4.6", "cni-agent-crashloop", r"cozy-cilium/cilium: .*cilium-agent CrashLoopBackOff"),
    FaultRow("S5.1", "csi-image-pull-backoff", r"proxmox-csi-plugin-controller (ErrImagePull|ImagePullBackOff)"),
    FaultRow("S5.1", "csi-no-topology-labels", r"no label topology\.kubernetes\.io/region"),
    FaultRow("S5.2", "storage-no-images=local-lvm", r"parameters\.storage local-lvm is no active Proxmox storage"),
    FaultRow("S5.3", "token-missing-privilege=csi:Datastore.AllocateSpace",
             r"claim \S+ Bound .*not reached within 5 s .*warning ProvisioningFailed: .*Datastore\.AllocateSpace",
             options={"sla.volume_provision": "4", "waits.stage5/pvc-bound": "5"}),
    FaultRow("S5.4", "csi-data-lost", r"before the pod restart is gone"),
    FaultRow("S5.5", "csi-expand-fails", r"VolumeResizeFailed"),
    FaultRow("S5.6", "", r"VolumeSnapshotClass proxmox-snapshots \(TEST_SNAPSHOT_CLASS\): the cluster does not serve",
             {"TEST_SNAPSHOT_CLASS": "proxmox-snapshots"}),
    FaultRow("S5.7", "csi-rwx-accepted", r"bound a ReadWriteMany volume"),
    FaultRow("S5.8", "csi-delete-leaks", r"disk local-lvm:vm-9999-pvc-\S+ removed from storage .* not reached"),
    FaultRow("S6.1", "cni-agent-crashloop", r"cilium-\S+ cilium-agent: CrashLoopBackOff"),
    FaultRow("S6.2", "dns-broken", r"coredns-\S+ coredns: CrashLoopBackOff"),
    FaultRow("S6.3", "pod-network-broken", r"by its ClusterIP of Service \S+; probe log: wget: download timed out"),
    FaultRow("S6.4", "netpol-not-enforced",
             r"2 after a deny-all ingress policy: client -> server \S+ blocked: .* probe succeeded",
             options={"waits.stage6/policy-applied": "10"}),
    FaultRow("S6.5", "tenant-isolation-broken",
             r"isolation: client in tenant-\w+ -> server \S+ in tenant-\w+ blocked: .* probe succeeded",
             options={"waits.stage6/policy-applied": "10"}),
    FaultRow("S6.5", "helmrelease-failed", r"Tenant tenant-root/\w+ Ready .*InstallFailed"),
    FaultRow("S6.6", "lb-no-address", r"LoadBalancer Service \S+ gets an address: not reached within",
             options={"waits.stage6/lb-address": "5"}),
    FaultRow("S7.1", "monitoring-operator-down", r"cozy-victoria-metrics-operator/victoria-metrics-operator: 0/1 "
             r"replicas available, .*victoria-metrics-operator-\S+: Running, operator CrashLoopBackOff"),
    FaultRow("S8.1", "helmrelease-failed", r"Tenant tenant-root/\w+ Ready .*InstallFailed"),
    FaultRow("S8.2", "clone-fails", r"Running with a Node: .*clone failed: copy failed"),
    FaultRow("S8.2", "capmox-down", r"Running with a Node: not reached within 5 s .*Pending, nodeRef none",
             options={"waits.stage8/kubernetes-ready": "5"}),
    FaultRow("S8.2", "node-taint-stuck", r"readyReplicas == replicas == 1: not reached within 5 s .*0 of 1 ready",
             options={"waits.stage8/kubernetes-ready": "5"}),
    FaultRow("S8.3", "csi-image-pull-backoff",
             r"StatefulSets nginx, redis, postgres Ready .*not reached within 10 s .*ExternalProvisioning",
             options={"waits.stage8/workloads-ready": "10"}),
    # The new Node never gets Ready; on a slow machine the MachineHealthCheck replaces it first, and the wait for the
    # workers Running with a Node is the one that runs out.
    FaultRow("S8.4", "node-taint-stuck", r"(new Node\(s\) \S+ Ready in the tenant cluster|2 worker\(s\) of \S+ Running "
             r"with a Node): not reached within 20 s", options={"waits.stage8/node-ready": "20"}),
    FaultRow("S8.5", "clone-fails", r"0 of 10 VMs created \(0\.0 %\), below 95 %: \S+: CreateError: .*copy failed"),
    FaultRow("S8.6", "mhc-disabled", r"MachineHealthCheck has the machine replaced .*not reached within 20 s "
             r".*HealthCheckSucceeded=False \w+, not remediated",
             {"TEST_ALLOW_DESTRUCTIVE": "true", "SLA_RECOVERY_SECONDS": "10"}, {"waits.stage8/recovery": "20"},
             also=("S8.2",)),
    FaultRow("S8.7", "backup-storage-missing", r"no active storage on node \S+ takes backups \(content backup\)"),
    FaultRow("S8.7", "restore-data-lost", r"restored from \S+vzdump-qemu-\d+-\S+\.vma\.zst, does not hold what the "
             r"guest wrote before the backup"),
    FaultRow("S8.8", "cni-agent-crashloop", r"pod cozy-cilium/cilium-\S+ cilium-agent: CrashLoopBackOff"),
    FaultRow("S8.8", "dns-broken", r"pod kube-system/coredns-\S+ coredns: CrashLoopBackOff"),
    FaultRow("S8.8", "capmox-down", r"pod cozy-cluster-api/capmox-controller-manager-\S+ manager: CrashLoopBackOff"),
    FaultRow("S8.9", "pve-http-errors=/version:1",
             r"SLA breach: proxmox-api-availability = 0\.000 %.*Proxmox GET /version: HTTP 500",
             {"PERF_PROBE_INTERVAL": "0.2"}),
    FaultRow("S8.10", "capmox-iso-leak", r"remain: ISO \S+user-data-\d+\.iso", also=("S8.2",)),
    FaultRow("S7.2", "exporter-down", r"scrape targets not up: pve \S+: down \(.*connection refused"),
    FaultRow("S7.3", "exporter-down", r"no pve_up series: no Proxmox exporter is scraped; deploy prometheus-pve"),
    FaultRow("S7.3", "pve-node-offline=pve2", r"pve2: pve_up 0"),
    FaultRow("S7.4", "pve-node-offline=pve2", r"SLA breach: pve-node-uptime pve2 = \d+\.\d+ %.* above 99 %",
             {"MONITORING_WINDOW": "30s"}),
    FaultRow("S7.4", "pve-api-errors=50", r"SLA breach: proxmox-api-error-rate = \d+\.\d+ %.* below 1 %",
             {"MONITORING_WINDOW": "30s"}),
    FaultRow("S7.5", "vmalert-rule-error", r"proxmox-by-node/ProxmoxNodeDownByName: health err: "),
    FaultRow("S7.6", "grafana-down", r"Grafana is not healthy: HTTP 503, database 'failing'"),
    FaultRow("S7.7", "logs-not-ingested", r"log entries matching \S+ \S+proxqa-marker-[0-9a-f]+\S+ in the log query "
             r"API at \S+: not reached within 5 s", options={"waits.stage7/logs-ingested": "5"}),
    FaultRow("S7.8", "node-cpu-hot=pve1", r"pve1: CPU 9\d\.\d % on average over 10s, above 80 %",
             {"MONITORING_WINDOW": "10s"}),
)


def render_markdown() -> str:
    lines = ["# Fault matrix", "",
             "For every check, a fault of the embedded lab under which the check must fail, and what its",
             "message must say. The project's tests (`tests/faults/`) run each row against the lab and also",
             "prove every check passes on the healthy lab. Generated from `tests/faults/matrix.py`",
             "(`PROXQA_WRITE_DOCS=1 pytest tests/faults -k doc` rewrites it).", "",
             "| check | lab fault | extra settings | failure message matches |", "|---|---|---|---|"]
    for row in ROWS:
        extra = ", ".join([f"`{k}={v}`" for k, v in row.settings.items()]
                          + [f"`--set {k}={v}`" for k, v in row.options.items()]
                          + [f"run after {check}" for check in row.also])
        fault = f"`{row.fault}`" if row.fault else "none (the lab's CSI plugin has no snapshots, as the real one)"
        lines.append(f"| {row.check} | {fault} | {extra} | `{row.expect.replace('|', '&#124;')}` |")
    return "\n".join(lines) + "\n"
