"""The settings that point the suite (or proxmoxer, curl) at a running lab, and the secrets behind them."""

import secrets
import uuid

# Identity role (the twin's seed) -> the settings of its id and of its secret.
ROLE_SETTINGS = {
    'user': ('PROXMOX_USERNAME', 'PROXMOX_PASSWORD'),
    'suite': ('PROXMOX_TOKEN_ID', 'PROXMOX_TOKEN_SECRET'),
    'capmox': ('PROXMOX_CAPMOX_TOKEN_ID', 'PROXMOX_CAPMOX_TOKEN_SECRET'),
    'csi': ('PROXMOX_CSI_TOKEN_ID', 'PROXMOX_CSI_TOKEN_SECRET'),
    'ccm': ('PROXMOX_CCM_TOKEN_ID', 'PROXMOX_CCM_TOKEN_SECRET'),
    'backup': ('PROXMOX_BACKUP_TOKEN_ID', 'PROXMOX_BACKUP_TOKEN_SECRET'),
}
# The monitoring stack's query APIs, by the settings' names (MONITORING_METRICS_URL <- metrics_url, ...).
MONITORING_URLS = ('metrics', 'targets', 'vmalert', 'logs', 'grafana')
# The test VMs' network as a site would give it: the lab's CAPMOX assigns these addresses through cloud-init and
# the twin's guest agent reports them.
CAPI_NETWORK = {
    'TEST_CAPI_IP_RANGE': '10.20.0.100-10.20.0.149',
    'TEST_CAPI_IP_PREFIX': '24',
    'TEST_CAPI_GATEWAY': '10.20.0.1',
    'TEST_CAPI_DNS_SERVERS': '10.20.0.1',
    'TEST_CAPI_CONTROL_PLANE_ENDPOINT': '10.20.0.10:6443',
}


def new_credentials():
    """Fresh secrets for one start: a password for the user, a UUID per token (PVE's form of a token secret)."""
    return dict((role, secrets.token_urlsafe(18) if role == 'user' else str(uuid.uuid4())) for role in ROLE_SETTINGS)


def lab_settings(inventory, credentials, state):
    """Environment name -> value, from the twin's inventory, the secrets it was started with and lab.json.

    KUBECONFIG is the management cluster's; LAB_TENANT_KUBECONFIG, the tenant cluster's, is the lab's own."""
    expected = inventory['expected']
    settings = {
        'PROXMOX_HOST': state['host'],
        'PROXMOX_PORT': str(state['port']),
        'PROXMOX_VERIFY_SSL': 'true',
        'PROXMOX_CA_BUNDLE': state['ca_bundle'],
        'PROXMOX_NODES': ','.join(expected['nodes']),
    }
    for identity in inventory['identities']:
        id_name, secret_name = ROLE_SETTINGS[identity['role']]
        settings[id_name] = identity['id']
        settings[secret_name] = credentials[identity['role']]
    settings.update({
        'TEST_VM_TEMPLATE': expected['template'],
        'TEST_STORAGE_POOL': expected['storage_pool'],
        'TEST_ISO_STORAGE': expected['iso_storage'],
        'TEST_NETWORK_BRIDGE': expected['bridge'],
        'TEST_TENANT_VNETS': ','.join(expected['tenant_vnets']),
        'TEST_LINK_SPEED_MBIT': str(expected['link_speed_mbit']),
        'TEST_EXTERNAL_ACCESS': 'true',     # the lab hands out LoadBalancer addresses, as Cilium's LB IPAM does
        'LAB_CONTROL_URL': state['control_url'],
        'KUBECONFIG': state['kube']['mgmt']['kubeconfig'],
        'LAB_TENANT_KUBECONFIG': state['kube']['tenant']['kubeconfig'],
    }, **CAPI_NETWORK)
    settings.update(('MONITORING_{0}_URL'.format(name.upper()), state['monitoring'][name + '_url'])
                    for name in MONITORING_URLS)
    return settings


def shell_quote(value):
    """value in single quotes, safe for any shell word (a quote inside becomes '"'"')."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def export_lines(settings):
    return ''.join("export {0}={1}\n".format(name, shell_quote(value)) for name, value in settings.items())
