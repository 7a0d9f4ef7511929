"""Logging: what a pod prints is found through the log query API."""
import secrets

import pytest

from proxqa.kube import manifests

WINDOW = "1h"       # the query looks this far back: enough for any clock skew, and bounded for a large store


@pytest.mark.check("S7.7")
def test_s7_7_pod_output_found_through_logsql(logs, mgmt_kube, make_workspace, settings, deadline):
    """A probe Job in a run-labelled namespace prints a unique marker line; VictoriaLogs' LogsQL API
    (/select/logsql/query) finds that line, from the probe's pod, within the logs-ingested wait."""
    space = make_workspace(mgmt_kube)
    namespace = space.namespace("logs")
    marker = f"proxqa-marker-{secrets.token_hex(8)}"
    job = manifests.probe_job(space.names.new("probe"), namespace, settings.test.probe_image, f"echo {marker}")
    result = space.run_probe(job, deadline("pod-running"))
    assert result.succeeded and marker in result.log, \
        f"probe Job {namespace}/{job['metadata']['name']} did not print the marker: {result.log or '(empty log)'}"
    pods = [pod["metadata"]["name"]
            for pod in mgmt_kube.list("v1", "Pod", namespace, selector=f"job-name={job['metadata']['name']}")]
    entries = logs.wait_entries(f'_time:{WINDOW} "{marker}"', deadline("logs-ingested"))
    assert any(entry.pod_name in pods for entry in entries), (
        f"the marker line was found, but not from the probe's pod {', '.join(pods)}: from "
        + "; ".join(f"pod {entry.pod_name or '(no kubernetes_pod_name field)'}" for entry in entries))
