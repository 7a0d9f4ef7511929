"""The server process: kubeconfig and token, anonymous access, loopback only, clean stop."""
import stat
import subprocess

import pytest
from kubernetes import client, config

from .conftest import KUBECTL, LAB_PYTHON, REPO, START_TIMEOUT, read_line_with, start_server, stop_server
from .helpers import expect_failure


def anonymous(kube) -> client.ApiClient:
    """A client that trusts the server's CA but presents no token."""
    configuration = client.Configuration()
    configuration.host = kube.url
    configuration.ssl_ca_cert = str(kube.state_dir / "mgmt-ca.crt")
    return client.ApiClient(configuration)


def test_the_kubeconfig_is_private_and_names_the_server(kube):
    text = kube.kubeconfig.read_text()
    assert stat.S_IMODE(kube.kubeconfig.stat().st_mode) == 0o600
    assert f'server: "{kube.url}"' in text and 'current-context: "mgmt"' in text, text


def test_requests_without_the_token_are_401_unauthorized(kube):
    with anonymous(kube) as api:
        expect_failure(401, "Unauthorized", client.CoreV1Api(api).list_namespace)


def test_the_version_is_public_as_on_a_real_cluster(kube):
    with anonymous(kube) as api:
        version = client.VersionApi(api).get_code()
    assert (version.major, version.git_version.startswith("v1.")) == ("1", True), version


def test_each_start_makes_a_new_token(kube, tmp_path):
    second = start_server(tmp_path / "second")
    try:
        loaded = client.Configuration()
        config.load_kube_config(config_file=str(kube.kubeconfig), client_configuration=loaded)
        configuration = client.Configuration(host=second.url, api_key={"BearerToken": loaded.api_key["BearerToken"]})
        configuration.ssl_ca_cert = str(second.state_dir / "mgmt-ca.crt")
        with client.ApiClient(configuration) as first_token:
            expect_failure(401, "Unauthorized", client.CoreV1Api(first_token).list_namespace)
    finally:
        stop_server(second.process)


def test_sigterm_stops_the_server_with_open_watches(tmp_path):
    lab = start_server(tmp_path / "stopped")
    watcher = subprocess.Popen([str(KUBECTL), "--kubeconfig", str(lab.kubeconfig), "get", "namespaces", "--watch"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    read_line_with(watcher, "default", START_TIMEOUT)
    status = stop_server(lab.process)
    watcher.kill()
    watcher.communicate()
    assert status == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "localhost"])
def test_only_loopback_addresses_are_accepted(tmp_path, host):
    refused = subprocess.run([str(LAB_PYTHON), "-m", "lab.kube", "--host", host, "--port", "0",
                              "--state-dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                             timeout=START_TIMEOUT)
    assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
    assert "binds loopback addresses only" in refused.stderr, refused.stderr
