"""No module of the collection builds a shell string: every .py under plugins/ is
parsed (ast) and each call that would hand a command line to a shell fails the
test with FILE:LINE. Flagged:

- ``shell=`` anything but a literal False (subprocess.*, Popen, any call);
- os.system, os.popen (and os.popen2/3/4), subprocess.getoutput and
  getstatusoutput (always a shell), anything of the Python 2 module ``commands``;
- run_command (AnsibleModule's) with a string as the command, or with
  ``use_unsafe_shell=`` anything but a literal False;
- any subprocess call (run, call, check_call, check_output, Popen, under any
  name they are imported as) whose command (first argument or ``args=``) is a
  string: a literal, an f-string, ``'...'.format(...)``, a ``%`` or ``+``
  expression on a string, or a name bound to one of those in the same scope.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PLUGINS = os.path.join(ROOT, 'plugins')

SUBPROCESS_CALLS = ('run', 'call', 'check_call', 'check_output', 'Popen')
ALWAYS_SHELL = {('os', 'system'), ('os', 'popen'), ('os', 'popen2'), ('os', 'popen3'), ('os', 'popen4'),
                ('subprocess', 'getoutput'), ('subprocess', 'getstatusoutput')}


def _dotted(node):
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return '.'.join(reversed(parts))
    return None


def _false(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.found = []
        # local name -> 'module' or 'module.function', from the imports
        self.aliases = {}
        # names bound to a string expression, per scope (innermost last)
        self.strings = [set()]

    def report(self, node, why: str) -> None:
        self.found.append('%s:%d: %s' % (os.path.relpath(self.path, ROOT), node.lineno, why))

    # imports --------------------------------------------------------------

    def visit_Import(self, node):
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split('.')[0]] = alias.name if alias.asname else \
                alias.name.split('.')[0]
            if alias.name.split('.')[0] == 'commands':
                self.report(node, 'imports the shell module commands')

    def visit_ImportFrom(self, node):
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = '%s.%s' % (node.module, alias.name)
        if (node.module or '').split('.')[0] == 'commands':
            self.report(node, 'imports from the shell module commands')

    def _resolve(self, func):
        """The called function as 'module.function' through the imports, else its dotted name."""
        dotted = _dotted(func)
        if dotted is None:
            return None
        head, _sep, rest = dotted.partition('.')
        base = self.aliases.get(head, head)
        return base + ('.' + rest if rest else '')

    # string-valued names ----------------------------------------------------

    def _stringy(self, node) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (str, bytes))
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            return self._stringy(node.left) or (isinstance(node.op, ast.Add) and self._stringy(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ('format', 'join'):
            return node.func.attr == 'format' or self._stringy(node.func.value)
        if isinstance(node, ast.Call) and _dotted(node.func) == 'str':
            return True
        if isinstance(node, ast.Name):
            return any(node.id in scope for scope in self.strings)
        return False

    def _scoped(self, node):
        self.strings.append(set())
        self.generic_visit(node)
        self.strings.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_Assign(self, node):
        self.generic_visit(node)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if self._stringy(node.value):
                    self.strings[-1].add(target.id)
                else:
                    self.strings[-1].discard(target.id)

    # calls ------------------------------------------------------------------

    def visit_Call(self, node):
        self.generic_visit(node)
        name = self._resolve(node.func) or ''
        module, _sep, function = name.rpartition('.')
        keywords = dict((k.arg, k.value) for k in node.keywords if k.arg)
        command = node.args[0] if node.args else keywords.get('args')
        if 'shell' in keywords and not _false(keywords['shell']):
            self.report(node, '%s with shell=' % (name or 'a call'))
        if (module, function) in ALWAYS_SHELL or module.split('.')[0] == 'commands':
            self.report(node, '%s runs its command through a shell' % name)
        if function == 'run_command' and not module.startswith('subprocess'):
            if 'use_unsafe_shell' in keywords and not _false(keywords['use_unsafe_shell']):
                self.report(node, 'run_command with use_unsafe_shell=')
            command = node.args[0] if node.args else keywords.get('args')
            if command is not None and self._stringy(command):
                self.report(node, 'run_command with a string command')
        if module == 'subprocess' and function in SUBPROCESS_CALLS and command is not None and self._stringy(command):
            self.report(node, '%s with a string command' % name)


def scan_file(path: str) -> list:
    with open(path, 'rb') as handle:
        tree = ast.parse(handle.read(), path)
    scanner = _Scanner(path)
    scanner.visit(tree)
    return scanner.found


def scan(root: str) -> list:
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(files):
            if name.endswith('.py'):
                found.extend(scan_file(os.path.join(directory, name)))
    return found


def check(root: str) -> int:
    """Fail with every FILE:LINE found; the number of files scanned otherwise."""
    found = scan(root)
    if found:
        raise AssertionError('%d shell string(s) built under %s:\n%s' % (len(found), root, '\n'.join(found)))
    return sum(len([n for n in files if n.endswith('.py')]) for _d, _s, files in os.walk(root))


def test_no_module_builds_a_shell_string():
    assert check(PLUGINS) >= 20  # every module and module_utils file was looked at


PLANTED = '''\
import os
import subprocess
import subprocess as sp
from subprocess import Popen as P, check_output
import commands


def bad(module, host, argv):
    subprocess.run(argv, shell=True)
    sp.call(['ls'], shell=1)
    os.system('ls')
    os.popen('ls')
    subprocess.getoutput('ls')
    commands.getoutput('ls')
    module.run_command('ip link')
    module.run_command(argv, use_unsafe_shell=True)
    module.run_command(f'ping {host}')
    subprocess.run('ls -l')
    subprocess.Popen(f'ping {host}')
    P('ping %s' % host)
    check_output('ping {}'.format(host))
    line = 'ping ' + host
    sp.check_call(line)
    subprocess.run(args='ls')
'''
PLANTED_LINES = {
    5: 'imports the shell module commands',
    9: 'subprocess.run with shell=',
    10: 'subprocess.call with shell=',
    11: 'os.system runs its command through a shell',
    12: 'os.popen runs its command through a shell',
    13: 'subprocess.getoutput runs its command through a shell',
    14: 'commands.getoutput runs its command through a shell',
    15: 'run_command with a string command',
    16: 'run_command with use_unsafe_shell=',
    17: 'run_command with a string command',
    18: 'subprocess.run with a string command',
    19: 'subprocess.Popen with a string command',
    20: 'subprocess.Popen with a string command',
    21: 'subprocess.check_output with a string command',
    23: 'subprocess.check_call with a string command',
    24: 'subprocess.run with a string command',
}

GOOD = '''\
import subprocess


def good(module, host, argv, command):
    subprocess.run(['ping', host], shell=False)
    subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    module.run_command(['ip', 'link'], use_unsafe_shell=False)
    module.run_command([command, '--version'])
    line = ['ping', host]
    subprocess.check_call(line)
    text = 'not a command'
    return text.format(host)
'''


def test_planted_shell_strings_fail_with_file_and_line(tmp_path):
    package = tmp_path / 'plugins' / 'module_utils'
    package.mkdir(parents=True)
    (package / '_planted.py').write_text(PLANTED)
    (package / '_good.py').write_text(GOOD)
    with pytest.raises(AssertionError) as failure:
        check(str(tmp_path / 'plugins'))
    reported = [line for line in str(failure.value).splitlines() if '_planted.py:' in line]
    lines = dict((int(line.split(':')[1]), line.split(': ', 1)[1]) for line in reported)
    assert lines == PLANTED_LINES
    assert all(line.startswith(os.path.relpath(str(package / '_planted.py'), ROOT) + ':') for line in reported)
    assert '_good.py' not in str(failure.value)


def test_argument_lists_pass(tmp_path):
    (tmp_path / '_good.py').write_text(GOOD)
    assert check(str(tmp_path)) == 1
