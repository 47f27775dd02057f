"""Split a raw tutorial script into the commands a naive playbook runs one loop
item each: a line, or a whole for-loop or here-document block."""
import json
import sys


def commands(path):
    out, block, depth, heredoc = [], [], 0, None
    for raw in open(path):
        line = raw.rstrip('\n')
        if not block and (not line.strip() or line.lstrip().startswith('#') or line.startswith('set ')
                          or line.startswith(('octet=', 'cni='))):
            continue
        block.append(line)
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
        elif '<<' in line and not line.rstrip().endswith('\\'):
            heredoc = line.split('<<', 1)[1].strip().strip("'\"")
        if line.startswith('for '):
            depth += 1
        if line.strip() == 'done':
            depth -= 1
        if heredoc or depth or line.endswith('\\'):
            continue
        out.append('\n'.join(block))
        block = []
    return out


if __name__ == '__main__':
    print(json.dumps(commands(sys.argv[1])))
