# -*- coding: utf-8 -*-
# Copyright: mta-upgrade contributors
# MIT License (see LICENSE in the mta-upgrade repository)
"""
Build mta-upgrade's argv from declared option formats and read its --json events.

In the house style of community.general's CmdRunner (guide_cmdrunner.rst): every option has a format that turns a
module parameter into argv elements, a command line is an ordered list of option names, and the command is run
as an argv list (never a shell string). This copy is self-contained so the collection needs nothing beyond
ansible-core on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


class Fmt(object):
    """Argument formats: each returns a function from a parameter value to a list of argv elements."""

    @staticmethod
    def as_bool(flag):
        return lambda v: [flag] if v else []

    @staticmethod
    def as_opt_val(flag):
        return lambda v: [] if v is None or v == '' else [flag, str(v)]

    @staticmethod
    def as_repeat(flag):
        return lambda vs: [x for v in (vs or []) for x in (flag, str(v))]

    @staticmethod
    def as_vars(flag):
        # Sorted: the same vars always give the same argv (stable logs, comparable runs).
        return lambda d: [x for k in sorted(d or {}) for x in (flag, '%s=%s' % (k, d[k]))]

    @staticmethod
    def as_list():
        return lambda vs: [str(v) for v in (vs or []) if v is not None]

    @staticmethod
    def as_fixed(*args):
        return lambda v: list(args)


def ssh_dest(host, user=None, port=None):
    """`[user@]host[:port]` as --host takes it; an IPv6 address in brackets. None for `local` (no --host)."""
    if host in (None, '', 'local'):
        return None
    h = '[%s]' % host if ':' in host and not host.startswith('[') else host
    return '%s%s%s' % ('%s@' % user if user else '', h, ':%d' % int(port) if port else '')


# Global options first (mta-upgrade reads them before the subcommand), then the subcommand and its arguments.
GLOBAL_FORMATS = dict(
    dest=Fmt.as_opt_val('--host'),
    identity=Fmt.as_opt_val('--identity'),
    ssh_options=Fmt.as_repeat('--ssh-option'),
    become_with=Fmt.as_opt_val('--become'),
    root=Fmt.as_opt_val('--root'),
    state_dir=Fmt.as_opt_val('--state-dir'),
    vars=Fmt.as_vars('--var'),
    json=Fmt.as_fixed('--json'),
    yes=Fmt.as_fixed('--yes'),
)
GLOBAL_ORDER = ['dest', 'identity', 'ssh_options', 'become_with', 'root', 'state_dir', 'vars', 'json', 'yes']


class MtaUpgradeRunner(object):
    """Runs `mta-upgrade GLOBALS SUBCOMMAND ARGS` for a module; `command` is the CLI as an argv prefix."""

    def __init__(self, module, command, values):
        self.module = module
        self.command = list(command)
        self.values = values

    def argv(self, sub, sub_formats=None, sub_order=None, **values):
        vals = dict(self.values, **values)
        argv = list(self.command)
        for name in GLOBAL_ORDER:
            argv += GLOBAL_FORMATS[name](vals.get(name))
        argv += sub
        for name in sub_order or []:
            argv += sub_formats[name](vals.get(name))
        return argv

    def run(self, argv):
        rc, out, err = self.module.run_command(argv, check_rc=False, environ_update={'NO_COLOR': '1'})
        return rc, out, err


def parse_events(stdout):
    """The JSON events, one per line, keyed on `type`; other lines (a banner, a crash) are kept apart."""
    events, other = [], []
    for line in (stdout or '').splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if isinstance(ev, dict) and isinstance(ev.get('type'), str):
            events.append(ev)
        else:
            other.append(line)
    return events, other


def _check_result(ev):
    data = ev.get('data') if isinstance(ev.get('data'), dict) else {}
    res = dict(status=ev.get('status'), summary=ev.get('summary'), name=ev.get('name'), phase=ev.get('phase'))
    res.update(dict((k, v) for k, v in data.items() if k not in res))
    return res


def summarize(events):
    """What a play needs from one mta-upgrade command: run id, versions, the TLS check, rollback, replaced files."""
    s = dict(run_id=None, started=False, ok=False, nothing_to_do=False, version_before=None, version_after=None,
             tls=None, rolled_back=False, rollback_state=None, replaced=[], error=None, messages=[], checks=[])
    for ev in events:
        t = ev.get('type')
        state = ev.get('state')
        if t == 'run':
            if ev.get('id'):
                s['run_id'] = ev.get('id')
            if state == 'started':
                s['started'] = True
            elif state == 'ok':
                s['ok'] = True
            elif state == 'nothing-to-do':
                s['nothing_to_do'] = True
                if ev.get('version'):
                    s['version_before'] = s['version_after'] = ev.get('version')
        elif t == 'check':
            s['checks'].append(ev)
            phase = ev.get('phase')
            data = ev.get('data') if isinstance(ev.get('data'), dict) else {}
            if ev.get('kind') == 'version' and data.get('version'):
                if phase in ('before', 'preview'):
                    s['version_before'] = s['version_before'] or data.get('version')
                elif phase != 'staged':
                    # 'after' in a run; no phase in verify (the live system now)
                    s['version_after'] = data.get('version')
            if ev.get('kind') == 'smtp-tls' and phase != 'staged':
                s['tls'] = _check_result(ev)
        elif t == 'rollback':
            s['rollback_state'] = state
            if state in ('complete', 'incomplete'):
                s['rolled_back'] = True
        elif t == 'replaced':
            files = ev.get('files')
            s['replaced'] = [f for f in files if isinstance(f, dict) and f.get('path')] if isinstance(files, list) else []
        elif t == 'error':
            s['error'] = ev
        elif t == 'message' and ev.get('text'):
            s['messages'].append(str(ev.get('text')))
    return s


def diff_of(replaced):
    """Ansible's diff: one line per replaced file with its sha256, before and after (absent when new)."""
    before = ''.join('%s %s\n' % (f['path'], f.get('before') or '(absent)') for f in replaced if f.get('before'))
    after = ''.join('%s %s\n' % (f['path'], f.get('after') or '(absent)') for f in replaced)
    return dict(before=before, after=after, before_header='before the run', after_header='after the run')
