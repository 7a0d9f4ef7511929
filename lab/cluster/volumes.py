"""Files written on persistent volumes, kept by the volume's CSI volumeHandle so they outlive pods.

Contract for the CSI driver and the pod runtime: `read(handle, path)` (None when missing), `write(handle, path,
text)`, `append(handle, path, text)`, `exists(handle, path)`, `listing(handle, directory)` (names directly in it), `is_dir(handle, directory)`, `remove(handle, path)`,
`forget(handle)` when the volume is deleted. Paths are relative to the volume's root ('' or 'dir/file').
"""


class VolumeData(object):
    def __init__(self):
        self._files = {}      # handle -> {relative path: text}

    def read(self, handle, path):
        return self._files.get(handle, {}).get(path.strip('/'))

    def write(self, handle, path, text):
        self._files.setdefault(handle, {})[path.strip('/')] = text

    def append(self, handle, path, text):
        files = self._files.setdefault(handle, {})
        files[path.strip('/')] = files.get(path.strip('/'), '') + text

    def exists(self, handle, path):
        return path.strip('/') in self._files.get(handle, {})

    def listing(self, handle, directory=''):
        prefix = directory.strip('/') + '/' if directory.strip('/') else ''
        return sorted({path[len(prefix):].split('/')[0] for path in self._files.get(handle, {})
                       if path.startswith(prefix)})

    def forget(self, handle):
        self._files.pop(handle, None)

    def remove(self, handle, path):
        self._files.get(handle, {}).pop(path.strip('/'), None)

    def is_dir(self, handle, directory):
        prefix = directory.strip('/') + '/' if directory.strip('/') else ''
        return not prefix or any(path.startswith(prefix) for path in self._files.get(handle, {}))
