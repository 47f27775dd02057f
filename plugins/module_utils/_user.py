# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The user a pause_pod workload runs as: ``user`` in the forms of
``docker run --user`` (NAME, UID, NAME:GROUP, UID:GID, or a mix), resolved on
the target with its user and group databases, and what subprocess.Popen needs
to start a process as that user.

PRIVATE: this module is internal to the collection and may change without notice.

Without a group the process gets the user's primary group and every group the
group database lists the user in, as a login does (initgroups). With a group it
gets that group alone, as runc does for ``--user USER:GROUP``. A UID that the
user database does not know has no primary group, so it needs a group.

Popen switches user, group and groups in the child between fork and exec,
without preexec_fn (which is unsafe in threads, and pods are made side by
side in threads); its user, group and extra_groups arguments came with Python
3.9, so on Python 3.8 a workload user is refused.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import sys

from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

# Names as useradd and groupadd accept them (a trailing $ for machine accounts).
_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$')
# (uid_t)-1 means "leave unchanged" to setresuid and chown.
MAX_ID = 2 ** 32 - 2
SUPPORTED = sys.version_info >= (3, 9)


def check(value, field: str) -> str:
    """The spec as given, when it has the form USER or USER:GROUP; else ValidationError."""
    text = value if isinstance(value, str) else None
    parts = text.split(':') if text is not None else []
    if not 1 <= len(parts) <= 2 or not all(_NAME.match(part) for part in parts):
        raise ValidationError(field, '%r is not a user: give NAME, UID, NAME:GROUP or UID:GID' % (value,))
    for part in parts:
        if part.isdigit() and int(part) > MAX_ID:
            raise ValidationError(field, '%s is not a valid user or group ID (0 to %d)' % (part, MAX_ID))
    return text


def resolve(value, field: str) -> dict:
    """{name, uid, gid, groups, home} of a spec on this host (the target); ValidationError
    naming FIELD for a user or group it does not know, or on Python 3.8."""
    text = check(value, field)
    if not SUPPORTED:
        raise ValidationError(field, 'running a workload as user %s needs Python 3.9 or newer on the target '
                              '(subprocess.Popen with user, group and extra_groups); this is Python %d.%d'
                              % (text, sys.version_info[0], sys.version_info[1]))
    user, _sep, group = text.partition(':')
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        entry = None
        if not user.isdigit():
            raise ValidationError(field, 'no user named %r on the target' % user)
    uid = entry.pw_uid if entry is not None else int(user)
    if group:
        gid = group_id(group, field)
        groups = [gid]
    elif entry is None:
        raise ValidationError(field, 'UID %d is not in the user database of the target, so it has no group: '
                              'give one, as in %d:GID' % (uid, uid))
    else:
        gid = entry.pw_gid
        groups = sorted(set(os.getgrouplist(entry.pw_name, gid)))
    return {'name': entry.pw_name if entry is not None else None, 'uid': uid, 'gid': gid, 'groups': groups,
            'home': entry.pw_dir if entry is not None else '/'}


def user_id(value: str, field: str, where: str = 'the target') -> int:
    """The UID of a user name or number in the user database of this host (WHERE names it)."""
    if value.isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise ValidationError(field, 'no user named %r on %s' % (value, where))


def group_id(value: str, field: str, where: str = 'the target') -> int:
    """The GID of a group name or number in the group database of this host."""
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise ValidationError(field, 'no group named %r on %s' % (value, where))


def identity(resolved):
    """What a workload's record keeps of its user, and compares: None for none."""
    if resolved is None:
        return None
    return {'uid': resolved['uid'], 'gid': resolved['gid'], 'groups': list(resolved['groups'])}


def popen_args(resolved) -> dict:
    """Keyword arguments of subprocess.Popen (Python 3.9+) that start the child as the
    user, with its groups in place of the caller's, and its HOME, USER and LOGNAME."""
    if resolved is None:
        return {}
    env = dict(os.environ, HOME=resolved['home'] or '/')
    if resolved['name']:
        env.update(USER=resolved['name'], LOGNAME=resolved['name'])
    else:
        env.pop('USER', None)
        env.pop('LOGNAME', None)
    return {'user': resolved['uid'], 'group': resolved['gid'], 'extra_groups': list(resolved['groups']), 'env': env}
