"""The requests an API server answered over HTTP, for the suite's own tests (e.g. that a read-only run wrote
nothing). Controllers in the same process use the store directly, so only clients' requests are here."""

import time
from collections import deque

LIMIT = 10000       # entries kept; the oldest go first


class RequestLog(object):
    """Every request answered, oldest first: time, method, path, status, seconds, user agent. Indexes keep counting
    after a clear, so a reader can ask for what came since the index it saw last."""

    def __init__(self, limit=LIMIT):
        self._entries = deque(maxlen=limit)
        self.next_index = 0

    def add(self, request, status, started):
        self._entries.append({'index': self.next_index, 'time': started, 'method': request.method,
                              'path': request.path, 'status': status, 'seconds': round(time.time() - started, 4),
                              'user_agent': request.headers.get('User-Agent', '')})
        self.next_index += 1

    def since(self, index):
        return [entry for entry in self._entries if entry['index'] >= index]

    def clear(self):
        self._entries.clear()
