"""Credentials: the Secret CAPMOX reads holds a usable URL and a working token."""
import re

import pytest

from proxqa.pve.connection import Identity
from stages.stage3_capi_vms.conftest import CAPMOX_SECRET

URL_FORM = re.compile(r"https://[^/\s]+:\d+/?")


@pytest.mark.check("S3.4")
def test_s3_4_capmox_credentials_usable(mgmt_kube, capmox_namespace, pve_raw):
    """Secret capmox-manager-credentials has url, token, secret; the url has no /api2/json suffix (CAPMOX adds it,
    a suffix makes every call fail with 501); the token authenticates against Proxmox."""
    data = mgmt_kube.secret_data(capmox_namespace, CAPMOX_SECRET)
    absent = [key for key in ("url", "token", "secret") if not data.get(key)]
    assert not absent, f"Secret {capmox_namespace}/{CAPMOX_SECRET} lacks keys: {', '.join(absent)}"
    url = data["url"]
    assert "/api2/json" not in url, (f"Secret {CAPMOX_SECRET}: url {url} ends with /api2/json; CAPMOX appends it "
                                     f"itself, so every call fails with 501: use https://host:8006")
    assert URL_FORM.fullmatch(url), f"Secret {CAPMOX_SECRET}: url {url!r} is not of the form https://host:8006"
    answer = pve_raw.get_with_token("/version", Identity("capmox", data["token"], data["secret"]))
    assert answer.status == 200, f"the token {data['token']} in {CAPMOX_SECRET} gets HTTP {answer.status} from Proxmox"
