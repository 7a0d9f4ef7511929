"""Controller: CAPMOX runs, stays up, and its validating webhook enforces its rules."""
import pytest

from stages.stage3_capi_vms.conftest import CAPMOX_DEPLOYMENT, CAPMOX_SELECTOR, INFRA_GROUP, INFRA_VERSION


@pytest.mark.check("S3.3")
def test_s3_3_capmox_available_with_few_restarts(mgmt_kube, capmox_namespace, settings):
    """capmox-controller-manager is Available and its containers restarted fewer than the threshold."""
    deployment = mgmt_kube.deployment(capmox_namespace, CAPMOX_DEPLOYMENT)
    most = settings.capi.max_restarts
    pods = mgmt_kube.pods(capmox_namespace, CAPMOX_SELECTOR)
    problems = []
    if deployment.conditions.get("Available") != "True":
        problems.append(f"{CAPMOX_DEPLOYMENT} not Available ({deployment.available}/{deployment.replicas} "
                        f"available)")
    problems += [f"pod {p.name}: {p.waiting or p.phase}, not Ready" for p in pods if not p.ready]
    problems += [f"pod {p.name}: {p.restarts} restarts (threshold {most}, LIMIT_CONTROLLER_RESTARTS)" for p in pods
                 if p.restarts >= most]
    assert pods, f"no pods with label {CAPMOX_SELECTOR} in {capmox_namespace}"
    assert not problems, "; ".join(problems)


@pytest.mark.check("S3.3")
@pytest.mark.mutates("submits a ProxmoxMachine to the management cluster (a dry run, which still needs create "
                     "rights)")
def test_s3_3_webhook_rejects_format_without_full_clone(mgmt_kube, capmox_namespace, names):
    """A ProxmoxMachine with `format` set and `full: false` is rejected by the validating webhook (dry run)."""
    machine = {"apiVersion": f"{INFRA_GROUP}/{INFRA_VERSION}", "kind": "ProxmoxMachine",
               "metadata": {"name": names.new("webhook"), "namespace": capmox_namespace, "labels": names.labels},
               "spec": {"sourceNode": "any", "templateID": 100, "format": "qcow2", "full": False}}
    refused = mgmt_kube.dry_run_refusal(INFRA_GROUP, INFRA_VERSION, "proxmoxmachines", capmox_namespace, machine)
    assert refused is not None, ("the CAPMOX webhook accepted a ProxmoxMachine with format set and full: false "
                                 "(is the validating webhook registered and its service up?)")
    assert refused.code in (400, 403, 422), str(refused)
