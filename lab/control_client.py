"""Calls to the twin's control API (plain HTTP and JSON on loopback; see lab/pve_twin/control.py)."""

import json
import urllib.error
import urllib.request

from lab.errors import EXIT_NOT_READY, EXIT_USAGE, LabError

# Loopback only: a proxy from the environment must never see these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(base_url, method, path, body=None, timeout=10.0):
    """The JSON answer of METHOD base_url+path; LabError with the API's own message on an error."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'} if data else {})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        raise LabError(_error_text(err), EXIT_USAGE if 400 <= err.code < 500 else EXIT_NOT_READY) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, 'reason', err)
        raise LabError('the lab control API at {0} does not answer ({1})'.format(base_url, reason)) from None


def healthy(base_url):
    """True if the control API answers /health."""
    try:
        return call(base_url, 'GET', '/health', timeout=1.0).get('status') == 'ok'
    except LabError:
        return False


def _error_text(err):
    try:
        return json.load(err)['error']
    except (ValueError, KeyError, TypeError):
        return 'the lab control API answered {0} {1}'.format(err.code, err.reason)
