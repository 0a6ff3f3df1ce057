#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mta-upgrade contributors
# MIT License (see LICENSE in the mta-upgrade repository)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: upgrade
short_description: Upgrade, verify or roll back a mail server with mta-upgrade
version_added: "0.1.0"
description:
  - Runs C(mta-upgrade) on the Ansible controller and drives the mail host over SSH with C(mta-upgrade --host),
    so the mail host needs neither Python nor Node.js. Use it with C(delegate_to=localhost).
  - C(state=upgraded) runs the plan with C(mta-upgrade run) (backup, build, staged install, atomic swap, checks). A run
    that fails has already rolled itself back on the host; the task then fails with C(rolled_back=true).
  - A host already at the plan's version with its required checks passing is reported C(changed=false) and is
    not touched (no backup, no build, no restart).
  - Check mode is mta-upgrade's dry run (C(run --dry-run)); for C(state=rolled_back) it reads C(mta-upgrade status).
  - Reads the C(--json) events of mta-upgrade (one JSON object per line) and returns the run id, the versions before
    and after, the TLS check's result, whether the host rolled back, and a diff of the files replaced.
author:
  - mta-upgrade contributors
options:
  plan:
    description:
      - Path of the plan on the controller (YAML). Required unless I(state=rolled_back).
    type: path
  state:
    description:
      - C(upgraded) runs the plan; C(verified) runs its checks only (read-only, never changed);
        C(rolled_back) undoes a run (I(run_id), or the latest).
    type: str
    choices: [upgraded, rolled_back, verified]
    default: upgraded
  run_id:
    description:
      - The run to roll back with I(state=rolled_back); default the latest.
    type: str
  vars:
    description:
      - Overrides of variables the plan declares, passed as C(--var NAME=VALUE).
    type: dict
    default: {}
  host:
    description:
      - The mail host as SSH reaches it (the playbooks pass C(ansible_host)).
      - C(local) runs mta-upgrade on the controller itself, without C(--host), for admins on the mail host
        and for tests against a sandbox root.
    type: str
    required: true
  port:
    description:
      - SSH port (C(ansible_port)).
    type: int
  user:
    description:
      - SSH user (C(ansible_user)).
    type: str
  private_key_file:
    description:
      - SSH private key (C(ansible_ssh_private_key_file)), passed as C(--identity).
    type: path
  ssh_options:
    description:
      - Extra ssh options as C(KEY=VALUE), each passed as C(--ssh-option), e.g. C(UserKnownHostsFile=/etc/ssh/mx_known_hosts).
    type: list
    elements: str
    default: []
  become:
    description:
      - Run the commands on the host as root through I(become_method).
    type: bool
    default: false
  become_method:
    description:
      - How to become root on the host.
    type: str
    choices: [sudo, doas]
    default: sudo
  root:
    description:
      - Take every path of the plan under this directory on the host (C(--root)); sandboxes and tests.
    type: path
  state_dir:
    description:
      - Where journals and backups live on the host (C(--state-dir)).
    type: path
  mta_upgrade:
    description:
      - The mta-upgrade command on the controller, as a list when it needs an interpreter
        (for example C([node, /opt/mta-upgrade/dist/src/cli.js])).
    type: list
    elements: str
    default: [mta-upgrade]
notes:
  - Runs on the controller; use C(delegate_to=localhost). Needs Python 3.8 or newer there and mta-upgrade on the PATH
    (or I(mta_upgrade)). Host keys are never accepted blindly; put them in known_hosts first.
  - Supports check mode (the dry run) and diff mode (each replaced file's sha256, before and after).
seealso:
  - name: Rolling upgrades in Ansible
    description: serial, any_errors_fatal and delegate_to, the pattern playbooks/rolling_upgrade.yml follows.
    link: https://docs.ansible.com/ansible/latest/playbook_guide/guide_rolling_upgrade.html
'''

EXAMPLES = r'''
- name: Upgrade sendmail on this MX (the host rolls itself back on failure)
  mta_upgrade.mta.upgrade:
    plan: plans/sendmail-8.15.yaml
    host: "{{ ansible_host | default(inventory_hostname) }}"
    port: "{{ ansible_port | default(omit) }}"
    user: "{{ ansible_user | default(omit) }}"
    private_key_file: "{{ ansible_ssh_private_key_file | default(omit) }}"
    vars:
      smtp_port: "25"
  delegate_to: localhost
  register: up

- name: Only check (read-only)
  mta_upgrade.mta.upgrade:
    plan: plans/sendmail-8.15.yaml
    state: verified
    host: mx2.example.org
  delegate_to: localhost

- name: Roll back the latest run
  mta_upgrade.mta.upgrade:
    state: rolled_back
    host: mx2.example.org
  delegate_to: localhost

- name: On the mail host itself, against a sandbox root
  mta_upgrade.mta.upgrade:
    plan: plans/sendmail-8.15.yaml
    host: local
    root: /srv/sandbox
  check_mode: true
'''

RETURN = r'''
cmd:
  description: The mta-upgrade command line that ran (argv).
  returned: always
  type: list
  elements: str
rc:
  description: Exit code of mta-upgrade (0 ok, 1 failed and rolled back, 2 bad input or refused, 3 rollback incomplete).
  returned: always
  type: int
run_id:
  description: The run mta-upgrade recorded (the id C(mta-upgrade rollback) takes).
  returned: when a run or rollback was recorded
  type: str
  sample: "20261202T172233Z-4f1c"
version_before:
  description: The MTA version the plan's version check found before the run.
  returned: when the plan has a version check
  type: str
  sample: "8.14.9"
version_after:
  description: The version found after the run (or now, for I(state=verified)).
  returned: when the plan has a version check
  type: str
  sample: "8.15.2"
tls:
  description: The result of the plan's smtp-tls check (status, summary, and what the probe saw).
  returned: when the plan has an smtp-tls check
  type: dict
  sample: {status: pass, summary: "127.0.0.1:25: TLSv1.3 TLS_AES_256_GCM_SHA384", phase: after}
rolled_back:
  description: Whether the host was rolled back (automatically after a failure, or by I(state=rolled_back)).
  returned: always
  type: bool
nothing_to_do:
  description: The host was already at the plan's version with its required checks passing; nothing was touched.
  returned: always
  type: bool
replaced:
  description: The files the run replaced, each with its sha256 before (null when new) and after.
  returned: always
  type: list
  elements: dict
  sample: [{path: /usr/local/sbin/sendmail, before: "9f2c…", after: "41aa…"}]
diff:
  description: The replaced files, one C(path sha256) line each, before and after; shown with C(--diff).
  returned: always
  type: dict
elapsed:
  description: Seconds mta-upgrade took (the rest of a task's time is Ansible's own).
  returned: always
  type: float
stdout_lines:
  description: The last 20 lines of mta-upgrade's output (its JSON events and messages).
  returned: always
  type: list
  elements: str
stderr_lines:
  description: The last 20 lines of mta-upgrade's stderr.
  returned: always
  type: list
  elements: str
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mta_upgrade.mta.plugins.module_utils.mta_upgrade import (
    Fmt, MtaUpgradeRunner, diff_of, parse_events, ssh_dest, summarize,
)

TAIL = 20

SUB_FORMATS = dict(
    plan=Fmt.as_list(),
    dry_run=Fmt.as_bool('--dry-run'),
    run_id=Fmt.as_list(),
)


def error_text(s, rc, err, other):
    e = s['error']
    if e:
        details = [str(d).strip() for d in (e.get('details') or []) if str(d).strip()]
        return '; '.join([str(e.get('message') or 'failed')] + details[:6])
    tail = [l for l in (err or '').splitlines() if l.strip()] + other
    return 'mta-upgrade exited %d: %s' % (rc, ' | '.join(tail[-5:]) or 'no output')


def rollback_would_change(events, run_id):
    """Check mode of state=rolled_back: would `mta-upgrade rollback` undo anything? (from `status --json`)"""
    runs = [e for e in events if e.get('type') == 'run' and e.get('id')]
    run = next((r for r in runs if r.get('id') == run_id), None) if run_id else (runs[-1] if runs else None)
    if run is None:
        return False, run_id
    undone = run.get('state') == 'rolled back'
    return (not undone) and bool(run.get('changes') or run.get('backup')), run.get('id')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            plan=dict(type='path'),
            state=dict(type='str', default='upgraded', choices=['upgraded', 'rolled_back', 'verified']),
            run_id=dict(type='str'),
            vars=dict(type='dict', default={}),
            host=dict(type='str', required=True),
            port=dict(type='int'),
            user=dict(type='str'),
            private_key_file=dict(type='path'),
            ssh_options=dict(type='list', elements='str', default=[]),
            become=dict(type='bool', default=False),
            become_method=dict(type='str', default='sudo', choices=['sudo', 'doas']),
            root=dict(type='path'),
            state_dir=dict(type='path'),
            mta_upgrade=dict(type='list', elements='str', default=['mta-upgrade']),
        ),
        required_if=[('state', 'upgraded', ['plan']), ('state', 'verified', ['plan'])],
        supports_check_mode=True,
    )
    p = module.params
    local = p['host'] == 'local'
    values = dict(
        dest=ssh_dest(p['host'], p['user'], p['port']),
        identity=None if local else p['private_key_file'],
        ssh_options=[] if local else p['ssh_options'],
        become_with=p['become_method'] if p['become'] and not local else None,
        root=p['root'],
        state_dir=p['state_dir'],
        vars={k: '' if v is None else (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (p['vars'] or {}).items()},
        plan=[p['plan']] if p['plan'] else [],
        run_id=[p['run_id']] if p['run_id'] else [],
        dry_run=module.check_mode,
    )
    runner = MtaUpgradeRunner(module, p['mta_upgrade'], values)
    state = p['state']
    if state == 'upgraded':
        argv = runner.argv(['run'], SUB_FORMATS, ['dry_run', 'plan'])
    elif state == 'verified':
        argv = runner.argv(['verify'], SUB_FORMATS, ['plan'])
    elif module.check_mode:
        argv = runner.argv(['status'])
    else:
        argv = runner.argv(['rollback'], SUB_FORMATS, ['run_id'])

    started = time.time()
    rc, out, err = runner.run(argv)
    elapsed = round(time.time() - started, 3)
    events, other = parse_events(out)
    s = summarize(events)
    result = dict(
        cmd=argv, rc=rc, elapsed=elapsed, changed=False, run_id=s['run_id'], version_before=s['version_before'],
        version_after=s['version_after'], tls=s['tls'], rolled_back=s['rolled_back'],
        nothing_to_do=s['nothing_to_do'], replaced=s['replaced'], diff=diff_of(s['replaced']),
        stdout_lines=(out or '').splitlines()[-TAIL:], stderr_lines=(err or '').splitlines()[-TAIL:],
    )
    if state == 'verified':
        result['version_before'] = result['version_before'] or s['version_after']
    if state == 'upgraded' and s['rollback_state'] == 'complete':
        # The host is as before the run (the checks after the rollback are not events): the old version is back.
        result['version_after'] = s['version_before']

    if rc != 0:
        # A failed run has rolled itself back: changed only if the undo was incomplete (exit 3).
        result['changed'] = rc == 3
        prefix = 'dry run: ' if module.check_mode and state == 'upgraded' else ''
        module.fail_json(msg=prefix + error_text(s, rc, err, other), **result)

    if state == 'upgraded':
        if s['nothing_to_do']:
            result['msg'] = 'already at the plan\'s version with the required checks passing: nothing to do'
        elif module.check_mode:
            result['changed'] = True
            result['msg'] = 'dry run: would upgrade (version %s now); nothing was changed' % (s['version_before'] or 'unknown')
        elif s['ok']:
            result['changed'] = True
            result['msg'] = 'upgraded: run %s, version %s -> %s' % (s['run_id'], s['version_before'] or '?', s['version_after'] or '?')
        else:
            module.fail_json(msg='mta-upgrade exited 0 without reporting the run (no run event): %s' % ' | '.join(other[-3:]), **result)
    elif state == 'verified':
        result['msg'] = 'every required check passes'
    elif module.check_mode:
        would, rid = rollback_would_change(events, p['run_id'])
        if p['run_id'] and rid != p['run_id'] or (p['run_id'] and not any(e.get('id') == p['run_id'] for e in events)):
            module.fail_json(msg='no run %s in the state directory' % p['run_id'], **result)
        result['run_id'] = rid
        result['changed'] = would
        result['msg'] = 'dry run: would roll back run %s' % rid if would else 'nothing to roll back'
    else:
        result['changed'] = s['rollback_state'] is not None
        result['msg'] = 'rolled back run %s' % s['run_id'] if result['changed'] else 'nothing to roll back (no run, or already rolled back)'
    module.exit_json(**result)


if __name__ == '__main__':
    main()
