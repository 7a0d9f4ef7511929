"""The container image registries as a cluster's nodes reach them: a pull succeeds unless a blocked prefix
matches the image reference.

Contract for the other components: `block(prefix, message)` makes every image whose reference starts with prefix
(as written in the pod spec, or normalised: `nginx` is `docker.io/library/nginx:latest`) fail to pull with message;
'' blocks everything. The message may use `{image}` (as written), `{reference}` (normalised) and `{host}` (the
registry's API host). `unblock(prefix)` lifts that block. `pull(image)` is None, or the error message a failed pull
shows (the kubelet puts it after `Failed to pull image "<image>": `).
"""

DEFAULT_HOST = 'docker.io'
ENDPOINTS = {'docker.io': 'registry-1.docker.io'}     # where a registry's API is served, when not at its name
UNREACHABLE = ('failed to pull and unpack image "{reference}": failed to resolve reference "{reference}": failed to '
               'do request: Head "https://{host}/v2/{path}/manifests/{tag}": dial tcp: lookup {host}: i/o timeout')


def normalise(image):
    """(full reference, registry host, repository path, tag) as containerd spells them."""
    name, _at, digest = image.partition('@')
    first, slash, _rest = name.partition('/')
    if not slash or ('.' not in first and ':' not in first and first != 'localhost'):
        host, path = DEFAULT_HOST, name if slash else 'library/' + name
    else:
        host, path = first, name[len(first) + 1:]
    repository, colon, tag = path.rpartition(':') if ':' in path.rpartition('/')[2] else (path, '', '')
    tag = tag or ('' if digest else 'latest')
    reference = '{0}/{1}'.format(host, repository) + ('@' + digest if digest else ':' + tag)
    return reference, host, repository, tag or digest


class ImageRegistry(object):
    """What a cluster's nodes can pull; blocks are (prefix -> message)."""

    def __init__(self):
        self._blocked = {}

    def block(self, prefix, message=UNREACHABLE):
        self._blocked[prefix] = message

    def unblock(self, prefix):
        self._blocked.pop(prefix, None)

    def pull(self, image):
        """None when the image can be pulled, else the error message."""
        reference, host, repository, tag = normalise(image)
        for prefix, message in sorted(self._blocked.items()):
            if image.startswith(prefix) or reference.startswith(prefix):
                return message.format(image=image, reference=reference, host=ENDPOINTS.get(host, host),
                                      path=repository, tag=tag)
        return None
