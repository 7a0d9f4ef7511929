"""Storage: the VM disk storage and an ISO storage on every target node, with room to spare."""
import pytest

GIB = 1024 ** 3


@pytest.mark.check("S2.4")
def test_s2_4_disk_and_iso_storage_usable(node_storages, settings):
    """The disk storage exists, is enabled and active on every target node and holds images; an ISO storage exists."""
    pool, iso = settings.test.storage_pool, settings.test.iso_storage
    if not pool:
        pytest.fail("no disk storage configured (TEST_STORAGE_POOL)")
    problems = []
    for node, storages in node_storages.items():
        store = storages.get(pool)
        if store is None:
            problems.append(f"{node}: storage {pool} not listed (listed: {', '.join(sorted(storages))})")
            continue
        problems += [f"{node}: storage {pool} is {state}" for state, bad in
                     (("disabled", not store.enabled), ("not active", not store.active)) if bad]
        if "images" not in store.content:
            problems.append(f"{node}: storage {pool} does not carry content images (content: "
                            f"{','.join(sorted(store.content)) or 'none'})")
        iso_stores = [s.name for s in storages.values() if "iso" in s.content and s.active]
        if iso and iso not in iso_stores:
            problems.append(f"{node}: ISO storage {iso} is not active with content iso")
        elif not iso_stores:
            problems.append(f"{node}: no active storage carries content iso (CAPMOX uploads the cloud-init ISO there)")
    assert not problems, "; ".join(problems)


@pytest.mark.check("S2.5")
def test_s2_5_disk_storage_has_free_space(node_storages, settings):
    """Free space on the disk storage is at least the configured minimum, and usage is below the limit."""
    pool, need_gib = settings.test.storage_pool, settings.test.min_free_storage_gib
    limit = settings.limits.storage_usage_percent
    problems = []
    for node, storages in node_storages.items():
        store = storages.get(pool)
        if store is None or not store.active:
            problems.append(f"{node}: storage {pool} not active, its space is unknown")
            continue
        free_gib = store.avail / GIB
        if free_gib < need_gib:
            problems.append(f"{node}: {pool} has {free_gib:.1f} GiB free, at least {need_gib:g} GiB required "
                            f"(TEST_MIN_FREE_STORAGE_GIB)")
        if store.used_percent > limit:
            problems.append(f"{node}: {pool} is {store.used_percent:.1f} % used, above {limit:g} % "
                            f"(LIMIT_STORAGE_USAGE_PERCENT)")
    assert not problems, "; ".join(problems)
