"""The configuration files of the real components: vmagent's scrape config, vmalert's rules, the exporter's pve.yml.

Each is built as a dict and written as JSON, which is YAML too: every component reads it as its YAML file.
"""

import json
import os

EXPORTER_JOB = 'pve'


def duration(seconds):
    return '{0:g}s'.format(seconds)


def scrape_config(interval, addresses, pve_target):
    """vmagent's -promscrape.config. addresses: component name -> host:port; pve_target: the twin's host:port."""
    def job(name, address, path='/metrics', **extra):
        return dict({'job_name': name, 'metrics_path': path, 'static_configs': [{'targets': [address]}]}, **extra)

    return {
        'global': {'scrape_interval': duration(interval), 'scrape_timeout': duration(interval)},
        'scrape_configs': [
            # cluster=1, node=0: the cluster-wide collectors (pve_up of every node) answer while any one node is
            # offline; the node collectors would fail the whole scrape when the node behind the API is.
            # The exporter's gunicorn holds a reused connection for its 2 s keep-alive: without
            # disable_keepalive every scrape takes 2 s more.
            job(EXPORTER_JOB, addresses['pve-exporter'], '/pve', disable_keepalive=True,
                params={'module': ['default'], 'cluster': ['1'], 'node': ['0'], 'target': [pve_target]}),
            job('proxmox-csi-controller', addresses['control'], '/metrics/csi'),
            job('proxmox-ccm', addresses['control'], '/metrics/ccm'),
            job('victoria-metrics', addresses['victoria-metrics']),
            job('vmagent', addresses['vmagent']),
            job('vmalert', addresses['vmalert']),
        ],
    }


def lab_rules(interval):
    """The alerting rules vmalert loads: Proxmox health and the SLIs of STAGES.md S7.4."""
    pending = duration(2 * interval)
    return {'groups': [
        {'name': 'proxmox', 'interval': duration(interval), 'rules': [
            {'alert': 'ProxmoxNodeDown', 'expr': 'pve_up{id=~"node/.+"} == 0', 'for': pending,
             'labels': {'severity': 'critical'},
             'annotations': {'summary': 'Proxmox node {{ $labels.id }} is down'}},
            {'alert': 'ProxmoxExporterDown', 'expr': 'up{job="%s"} == 0' % EXPORTER_JOB, 'for': pending,
             'labels': {'severity': 'critical'},
             'annotations': {'summary': 'prometheus-pve-exporter at {{ $labels.instance }} is not scraped'}},
            {'alert': 'ProxmoxApiErrorRate',
             'expr': 'sum(rate(proxmox_api_request_errors_total[1m])) / sum(rate(proxmox_api_requests_total[1m]))'
                     ' > 0.01',
             'for': pending, 'labels': {'severity': 'warning'},
             'annotations': {'summary': 'More than 1 % of Proxmox API requests fail'}},
        ]},
        {'name': 'monitoring', 'interval': duration(interval), 'rules': [
            {'alert': 'TargetDown', 'expr': 'up == 0', 'for': pending, 'labels': {'severity': 'warning'},
             'annotations': {'summary': '{{ $labels.job }} target {{ $labels.instance }} is down'}},
        ]},
    ]}


def broken_rules(interval):
    """The vmalert-rule-error fault: valid MetricsQL whose regular expression fails at every evaluation."""
    return {'groups': [
        {'name': 'proxmox-by-node', 'interval': duration(interval), 'rules': [
            {'alert': 'ProxmoxNodeDownByName',
             'expr': 'label_replace(pve_up{id=~"node/.+"}, "node", "$1", "id", "node/(.+") == 0',
             'labels': {'severity': 'critical'}},
        ]},
    ]}


def exporter_config(token_id, token_secret, ca_path):
    """pve.yml: the read-only token and the lab CA (proxmoxer hands verify_ssl to requests, which takes a path)."""
    user, _, token_name = token_id.partition('!')
    return {'default': {'user': user, 'token_name': token_name, 'token_value': token_secret,
                        'verify_ssl': str(ca_path)}}


def write(path, content, private=False):
    """Write content as JSON; private files (holding a secret) are readable by their owner only."""
    partial = '{0}.partial'.format(path)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(descriptor, 'w') as out:
        json.dump(content, out, indent=2)
    os.replace(partial, path)
