"""Stage 3: VM management through Cluster API (CAPI + CAPMOX)."""
