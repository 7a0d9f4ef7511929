"""What a container's command does, as busybox's sh and applets would do it: the commands the suite's probe
Jobs run (wget, nc, nslookup, echo/cat/test on files, sleep, exit) with their real output and exit statuses.

`run(argv, box)` executes a container's command (command + args) and returns its exit status, or SERVES when
the command is the image's own long-running program; StartError when a shell image lacks the program. `box` is the container's world (see pods.Box): its pod,
env, files, log, network and clock. Shell scripts (`sh -c "..."`) support `;`, `&&`, `||`, newlines, quotes,
`$VAR`, `#` comments and the redirections `>`, `>>`, `2>`, `2>&1`, `>&2`; no pipes, loops or conditionals.
"""

import re
from urllib.parse import urlsplit

from .network import OPEN, REFUSED

SERVES = None                 # run() result of a program that keeps running
LONG_SLEEP = 60.0             # modelled seconds from which a sleep is a keep-alive and keeps its real length
DNS_TIMEOUT = 10.0            # modelled seconds a lookup takes to give up (2 attempts of 5 s)
WGET_TIMEOUT = 900.0          # busybox wget's default -T
SHELLS = ('sh', 'ash', 'bash')
SHELL_IMAGES = ('busybox', 'alpine', 'ubuntu', 'debian', 'curl', 'netshoot', 'dnsutils', 'agnhost')
NGINX_PAGE = ('<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n'
              '<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed '
              'and working. Further configuration is required.</p>\n</body>\n</html>\n')
_TOKEN = re.compile(r'''\s*(?:(?P<op>&&|\|\||2>&1|>&2|2>>|2>|>>|[;\n|&<>])|(?P<word>(?:[^\s;&|<>'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+))''',
                    re.S)
_VARIABLE = re.compile(r'\$(?:\{(\w+)\}|(\w+|\?))')


class ScriptError(Exception):
    """A script this shell cannot run: the message is what sh prints."""


class StartError(Exception):
    """The container cannot start: the message is the runtime's (exec of a program the image lacks)."""


class Exit(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


class Streams(object):
    """Where a command's stdout and stderr go: the log, a file, or nowhere."""

    def __init__(self, box, redirects):
        self.box = box
        self.targets = {1: None, 2: None}      # None: the log
        for fd, mode, target in redirects:
            if target == '&1':
                self.targets[2] = self.targets[1]
            elif target == '&2':
                self.targets[1] = self.targets[2]
            else:
                if mode == '>' and target != '/dev/null':
                    box.files.write(target, '')
                self.targets[fd] = target

    def out(self, text):
        self._emit(1, text)

    def err(self, text):
        self._emit(2, text)

    def _emit(self, fd, text):
        target = self.targets[fd]
        if target is None:
            self.box.log(text)
        elif target != '/dev/null':
            self.box.files.append(target, text)


def shell_image(image):
    name = image.split('@')[0].rsplit('/', 1)[-1].split(':')[0]
    return name in SHELL_IMAGES


def tokens(script, env):
    """The script as ('op', text) and ('word', text) tokens, quotes removed and variables expanded."""
    found, position = [], 0
    script = re.sub(r'(^|\s)#[^\n]*', r'\1', script)
    while position < len(script):
        if not script[position:].strip():
            break
        match = _TOKEN.match(script, position)
        if not match or match.end() == position:
            raise ScriptError('sh: syntax error: unterminated quoted string')
        position = match.end()
        if match.group('op'):
            found.append(('op', match.group('op')))
        else:
            found.append(('word', _unquote(match.group('word'), env)))
    return found


def _unquote(word, env):
    def expand(text):
        return _VARIABLE.sub(lambda match: env.get(match.group(1) or match.group(2), ''), text)
    parts = re.findall(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"|\\.|[^'\"\\]+", word, re.S)
    result = []
    for part in parts:
        if part.startswith("'"):
            result.append(part[1:-1])
        elif part.startswith('"'):
            result.append(re.sub(r'\\([\\"$`])', r'\1', expand(part[1:-1])))
        elif part.startswith('\\'):
            result.append(part[1:])
        else:
            result.append(expand(part))
    return ''.join(result)


def parse(script, env):
    """[(connector, argv, redirects)]: connector is ';', '&&' or '||' (how it follows the previous command)."""
    commands, argv, redirects, connector = [], [], [], ';'
    items = tokens(script, env)
    index = 0
    while index < len(items):
        kind, text = items[index]
        if kind == 'word':
            argv.append(text)
        elif text in ('>', '>>', '2>', '2>>', '<'):
            if index + 1 >= len(items) or items[index + 1][0] != 'word':
                raise ScriptError("sh: syntax error: unexpected newline")
            index += 1
            fd = 2 if text.startswith('2') else 0 if text == '<' else 1
            redirects.append((fd, text.lstrip('2') or '>', items[index][1]))
        elif text in ('2>&1', '>&2'):
            redirects.append((2 if text == '2>&1' else 1, '>', '&1' if text == '2>&1' else '&2'))
        elif text in ('|', '&'):
            raise ScriptError('sh: this shell models no pipes or background jobs ({0!r})'.format(text))
        else:
            if argv:
                commands.append((connector, argv, redirects))
            elif text in ('&&', '||'):
                raise ScriptError('sh: syntax error: unexpected "{0}"'.format(text))
            argv, redirects = [], []
            connector = text if text in ('&&', '||') else ';'
        index += 1
    if argv:
        commands.append((connector, argv, redirects))
    return commands


async def run(argv, box):
    """Run a container's command; its exit status, or SERVES for the image's own long-running program."""
    if not argv:
        return 0 if shell_image(box.image) else SERVES
    program = argv[0].rsplit('/', 1)[-1]
    try:
        if program in SHELLS:
            if len(argv) >= 3 and argv[1] == '-c':
                return await script(argv[2], box)
            return 0          # an interactive shell without a terminal reads EOF and exits
        if program in APPLETS:
            return await APPLETS[program](argv[1:], Streams(box, []), box)
    except Exit as done:
        return done.status
    if shell_image(box.image):
        raise StartError('failed to create containerd task: failed to create shim task: OCI runtime create failed: '
                         'runc create failed: unable to start container process: exec: "{0}": executable file not '
                         'found in $PATH: unknown'.format(argv[0]))
    return SERVES


async def script(text, box):
    """Run a `sh -c` script; its exit status."""
    env = dict(box.env)
    try:
        commands = parse(text, env)
    except ScriptError as err:
        box.log(str(err) + '\n')
        return 2
    status = 0
    try:
        for connector, argv, redirects in commands:
            if (connector == '&&' and status != 0) or (connector == '||' and status == 0):
                continue
            status = await _command(argv, redirects, box)
            env['?'] = str(status)
    except Exit as done:
        return done.status
    return status


async def _command(argv, redirects, box):
    program = argv[0]
    streams = Streams(box, [item for item in redirects if item[0] != 0])
    applet = APPLETS.get(program.rsplit('/', 1)[-1])
    if applet is None:
        streams.err('sh: {0}: not found\n'.format(program))
        return 127
    return await applet(argv[1:], streams, box)


# ---------------------------------------------------------------------------------------------------- applets

async def _true(_args, _streams, _box):
    return 0


async def _false(_args, _streams, _box):
    return 1


async def _exit(args, _streams, _box):
    raise Exit(int(args[0]) if args and args[0].lstrip('-').isdigit() else 0)


async def _echo(args, streams, _box):
    newline = True
    if args and args[0] == '-n':
        newline, args = False, args[1:]
    streams.out(' '.join(args) + ('\n' if newline else ''))
    return 0


async def _cat(args, streams, box):
    status = 0
    for path in args:
        text = box.files.read(path)
        if text is None:
            streams.err('cat: can\'t open \'{0}\': No such file or directory\n'.format(path))
            status = 1
        else:
            streams.out(text)
    return status


async def _test(args, _streams, box):
    if args and args[-1] == ']':
        args = args[:-1]
    negate = bool(args) and args[0] == '!'
    args = args[1:] if negate else args
    if len(args) == 2 and args[0] in ('-f', '-e', '-s', '-d'):
        path = args[1]
        result = {'-f': box.files.exists(path), '-e': box.files.exists(path) or box.files.is_dir(path),
                  '-s': bool(box.files.read(path)), '-d': box.files.is_dir(path)}[args[0]]
    elif len(args) == 3 and args[1] in ('=', '==', '!='):
        result = (args[0] == args[2]) == (args[1] != '!=')
    elif len(args) == 2 and args[0] in ('-n', '-z'):
        result = bool(args[1]) == (args[0] == '-n')
    elif len(args) == 1:
        result = bool(args[0])
    else:
        result = False
    return 0 if result != negate else 1


async def _ls(args, streams, box):
    paths = [arg for arg in args if not arg.startswith('-')] or [box.files.cwd]
    status = 0
    for path in paths:
        if box.files.exists(path):
            streams.out(path + '\n')
        elif box.files.is_dir(path):
            names = box.files.listing(path)
            streams.out(''.join(name + '\n' for name in names))
        else:
            streams.err('ls: {0}: No such file or directory\n'.format(path))
            status = 1
    return status


async def _sleep(args, streams, box):
    if not args:
        streams.err('BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\nUsage: sleep [N]...\n')
        return 1
    total = 0.0
    for arg in args:
        if arg in ('inf', 'infinity'):
            total = float('inf')
            break
        match = re.fullmatch(r'([0-9.]+)([smhd]?)', arg)
        if not match:
            streams.err("sleep: invalid number '{0}'\n".format(arg))
            return 1
        total += float(match.group(1)) * {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}[match.group(2)]
    await box.sleep(total, keep_alive=total >= LONG_SLEEP)
    return 0


async def _hostname(_args, streams, box):
    streams.out(box.env.get('HOSTNAME', '') + '\n')
    return 0


async def _mkdir(args, _streams, box):
    for path in args:
        if not path.startswith('-'):
            box.files.make_dir(path)
    return 0


async def _touch(args, _streams, box):
    for path in args:
        if not box.files.exists(path):
            box.files.write(path, '')
    return 0


async def _rm(args, _streams, box):
    for path in args:
        if not path.startswith('-'):
            box.files.remove(path)
    return 0


def _options(args, with_value):
    """(options {flag: value or True}, operands), getopt style: -qO- and --timeout=5 included."""
    options, operands = {}, []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith('--') and len(arg) > 2:
            name, equals, value = arg[2:].partition('=')
            if not equals and name in with_value and index + 1 < len(args):
                index += 1
                value = args[index]
            options['--' + name] = value if equals or name in with_value else True
        elif arg.startswith('-') and len(arg) > 1:
            position = 1
            while position < len(arg):
                flag = arg[position]
                if flag in with_value:
                    value = arg[position + 1:]
                    if not value and index + 1 < len(args):
                        index += 1
                        value = args[index]
                    options['-' + flag] = value
                    break
                options['-' + flag] = True
                position += 1
        else:
            operands.append(arg)
        index += 1
    return options, operands


async def _resolve(name, box, streams, applet):
    """The first address of name, or None after printing busybox's error."""
    status, _fqdn, addresses = box.network.lookup(box.pod, name)
    if status == 'timeout':
        await box.sleep(DNS_TIMEOUT)
    if status != 'ok':
        streams.err("{0}: bad address '{1}'\n".format(applet, name))
        return None
    return addresses[0]


async def _wget(args, streams, box):
    options, operands = _options(args, with_value=('O', 'T', 'timeout', 'output-document', 'U', 'Y', 'P'))
    if not operands:
        streams.err('wget: missing URL\n')
        return 1
    url = urlsplit(operands[0] if '://' in operands[0] else 'http://' + operands[0])
    quiet = '-q' in options
    timeout = float(options.get('-T') or options.get('--timeout') or WGET_TIMEOUT)
    host = url.hostname or ''
    port = url.port or (443 if url.scheme == 'https' else 80)
    ip = await _resolve(host, box, streams, 'wget')
    if ip is None:
        return 1
    if not quiet:
        streams.err('Connecting to {0} ({1}:{2})\n'.format(url.netloc, ip, port))
    verdict, server = box.network.reach(box.pod, ip, port, 'TCP')
    if verdict == REFUSED:
        streams.err("wget: can't connect to remote host ({0}): Connection refused\n".format(ip))
        return 1
    if verdict != OPEN:
        await box.sleep(timeout)
        streams.err('wget: download timed out\n')
        return 1
    code, reason, body = http_response(server, url.path or '/')
    if code != 200:
        streams.err('wget: server returned error: HTTP/1.1 {0} {1}\n'.format(code, reason))
        return 1
    target = options.get('-O') or options.get('--output-document') or (url.path.rsplit('/', 1)[-1] or 'index.html')
    if '--spider' in options:
        return 0
    if target == '-':
        if not quiet:
            streams.err('writing to stdout\n')
        streams.out(body)
        if not quiet:
            streams.err('-                    100% |********************************| {0:5d}  0:00:00 ETA\n'
                        'written to stdout\n'.format(len(body)))
    elif target != '/dev/null':
        box.files.write(target, body)
        if not quiet:
            streams.err("saving to '{0}'\n".format(target))
    return 0


def http_response(server, path):
    """(status, reason, body) of what answers on a connection: nginx's pages, or an empty 200."""
    _pod, container = server or (None, None)
    if container is not None and 'nginx' in container.get('image', ''):
        if path in ('/', '/index.html'):
            return 200, 'OK', NGINX_PAGE
        return 404, 'Not Found', ''
    return 200, 'OK', ''


async def _nc(args, streams, box):
    options, operands = _options(args, with_value=('w', 'p', 's', 'i'))
    if len(operands) < 2 or not operands[1].isdigit():
        streams.err('BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n'
                    'Usage: nc [OPTIONS] HOST PORT  - connect\n')
        return 1
    host, port = operands[0], int(operands[1])
    protocol = 'UDP' if '-u' in options else 'TCP'
    ip = await _resolve(host, box, streams, 'nc')
    if ip is None:
        return 1
    verdict = box.network.connect(box.pod, ip, port, protocol)
    if verdict == OPEN or (protocol == 'UDP' and verdict == REFUSED):
        if '-v' in options:
            streams.err('{0} ({1}:{2}) open\n'.format(host, ip, port))
        return 0
    if verdict == REFUSED:
        streams.err("nc: can't connect to remote host ({0}): Connection refused\n".format(ip))
        return 1
    await box.sleep(float(options.get('-w') or WGET_TIMEOUT))
    streams.err('nc: timeout\n')
    return 1


async def _nslookup(args, streams, box):
    operands = [arg for arg in args if not arg.startswith('-')]
    if not operands:
        streams.err('BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n'
                    'Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]\n')
        return 1
    name = operands[0]
    server = box.network.resolver(box.pod)
    status, fqdn, addresses = box.network.lookup(box.pod, name)
    if server is None:
        status = 'nxdomain'
    if status == 'timeout':
        await box.sleep(DNS_TIMEOUT)
        streams.out(';; connection timed out; no servers could be reached\n\n')
        return 1
    streams.out('Server:\t\t{0}\nAddress:\t{0}:53\n\n'.format(server or '127.0.0.53'))
    if status != 'ok':
        streams.out("** server can't find {0}: NXDOMAIN\n\n** server can't find {0}: NXDOMAIN\n\n".format(name))
        return 1
    streams.out(''.join('Name:\t{0}\nAddress: {1}\n'.format(fqdn, address) for address in addresses) + '\n')
    return 0


APPLETS = {
    'true': _true, 'false': _false, 'exit': _exit, 'echo': _echo, 'cat': _cat, 'test': _test, '[': _test,
    'ls': _ls, 'sleep': _sleep, 'hostname': _hostname, 'mkdir': _mkdir, 'touch': _touch, 'rm': _rm,
    'wget': _wget, 'nc': _nc, 'nslookup': _nslookup,
}
