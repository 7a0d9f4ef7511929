"""Cluster API + CAPMOX: the objects the suite creates and how it reads their state."""
