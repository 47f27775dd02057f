# A CNI plugin for fault injection (tests/reliability only), installed as
# podnet-fault with a shebang by setup.yml. Chained before or
# after a real plugin, it passes the previous result through, unless the file
# /run/podnet-faults/POSITION (POSITION from its config, "before" or "after")
# names a fault for ADD:
#   kill   SIGKILL its parent (the runtime: the module dies mid-ADD)
#   hang   start a child that sleeps, then sleep (the runtime's timeout must end both)
#   error  answer with a CNI error result (code 11) and exit 1
# Every call is logged to /run/podnet-faults/calls as "COMMAND CONTAINERID POSITION".
import json
import os
import signal
import subprocess
import sys
import time

DIRECTORY = '/run/podnet-faults'
config = json.loads(sys.stdin.read() or '{}')
command = os.environ.get('CNI_COMMAND', '')
position = config.get('position', 'after')
version = config.get('cniVersion', '1.0.0')
if command == 'VERSION':
    print(json.dumps({'cniVersion': version, 'supportedVersions': ['0.3.1', '0.4.0', '1.0.0']}))
    sys.exit(0)
os.makedirs(DIRECTORY, exist_ok=True)
with open(os.path.join(DIRECTORY, 'calls'), 'a') as log:
    log.write('%s %s %s\n' % (command, os.environ.get('CNI_CONTAINERID', ''), position))
if command != 'ADD':
    sys.exit(0)
try:
    with open(os.path.join(DIRECTORY, position)) as trigger:
        fault = trigger.read().strip()
except OSError:
    fault = ''
if fault == 'kill':
    os.kill(os.getppid(), signal.SIGKILL)
    sys.exit(1)
if fault == 'hang':
    subprocess.Popen(['sleep', '300'], stdin=subprocess.DEVNULL)
    time.sleep(300)
if fault == 'error':
    print(json.dumps({'cniVersion': version, 'code': 11, 'msg': 'podnet-fault: injected error',
                      'details': 'asked for by %s/%s' % (DIRECTORY, position)}))
    sys.exit(1)
print(json.dumps(config.get('prevResult') or {'cniVersion': version, 'interfaces': [], 'ips': []}))
