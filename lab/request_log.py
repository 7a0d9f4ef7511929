"""The requests a lab server answered over HTTP (the Proxmox twin, the Kubernetes API servers), for the suite's own
tests: e.g. that a read-only run wrote nothing, or how many requests a stage sends."""

from collections import deque

LIMIT = 10000       # entries kept; the oldest go first


class RequestLog(object):
    """Every request answered, oldest first, as the server describes it (time, method, path, status, ...). Indexes
    keep counting after a clear, so a reader can ask for what came since the index it saw last."""

    def __init__(self, limit=LIMIT):
        self._entries = deque(maxlen=limit)
        self.next_index = 0

    def add(self, entry):
        self._entries.append(dict(entry, index=self.next_index))
        self.next_index += 1

    def since(self, index):
        return [entry for entry in self._entries if entry['index'] >= index]

    def clear(self):
        self._entries.clear()
