"""Process checks shared by the launcher and the twin (standard library only)."""

import os


def alive(pid):
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/{0}/stat'.format(pid)) as stat:
            # The state follows the command name, which is in parentheses and may hold spaces.
            return stat.read().rpartition(')')[2].split()[0] != 'Z'
    except OSError:
        return True


def command_line(pid):
    """The process's arguments, or [] when it is gone or not readable."""
    try:
        with open('/proc/{0}/cmdline'.format(pid), 'rb') as cmdline:
            return [arg.decode(errors='replace') for arg in cmdline.read().split(b'\0') if arg]
    except OSError:
        return []
