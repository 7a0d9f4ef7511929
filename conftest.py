"""The suite's plugin and shared fixtures (dormant for the project's own tests under tests/)."""

pytest_plugins = (
    "proxqa.plugin",
    "fixtures.settings",
    "fixtures.pve",
    "fixtures.sla",
    "fixtures.names",
    "fixtures.kube",
    "fixtures.capi",
    "fixtures.monitoring",
    "fixtures.availability",
)
