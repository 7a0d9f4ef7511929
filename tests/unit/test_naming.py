"""Names of created objects: valid, unique, traceable to the run."""
import re

from proxqa.naming import CLUSTER_PREFIX, RUN_LABEL, Names, made_by

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def test_names_are_dns_labels_carrying_run_and_worker():
    names = Names("20261126-064158-BF6A", "gw3")
    name = names.new("pvc")
    assert DNS_LABEL.fullmatch(name) and len(name) <= 63
    assert name.startswith("qa-20261126-064158-bf6a-gw3-pvc-")


def test_every_name_is_new():
    names = Names("run")
    assert len({names.new("vm") for _ in range(200)}) == 200


def test_long_run_ids_still_give_valid_names_and_labels():
    names = Names("nightly_" + "x" * 80)
    assert len(names.new("machinedeployment")) <= 63
    assert DNS_LABEL.fullmatch(names.labels[RUN_LABEL]) and len(names.labels[RUN_LABEL]) <= 63


def test_names_and_tags_the_suite_made_tell_their_run_and_worker():
    names = Names("20261126-064158-BF6A", "gw3")
    assert made_by(names.new("capi")) == ("20261126-064158-bf6a", "gw3")
    assert made_by(names.vm_tag) == ("20261126-064158-bf6a", "gw3")
    assert made_by(CLUSTER_PREFIX + Names("nightly-42").new("k8s")) == ("nightly-42", "w0")


def test_lookalike_names_and_tags_are_not_the_suite_s():
    for other in ("qa-team", "qa-nightly-42-db", "cozystack", "ip_net0_10.0.0.5", "kubernetes-prod-w0-x",
                  "xqa-run-w0-x", "vm-9900-disk-0", "qa--w0-x"):
        assert made_by(other) is None, other
