#!/usr/bin/env python3
"""cg_cost.py MESSAGES DUMP... - libvipl's own instructions per message.

Reads callgrind dumps made by vipl_cg (one per path; run with
--collect-systime=yes to also count system calls) and splits what was
collected into:
  libvipl   instructions executed in libvipl itself (self cost of every
            function in libvipl.so), plus everything libc did when called
            directly from libvipl (a spin lock, memset...)
  verbs     everything below the verbs calls libvipl makes: ibv_post_send,
            ibv_poll_cq... are inline in verbs.h and jump straight into the
            provider (librxe), so this is the inclusive cost of libvipl's
            calls into libibverbs and the provider, libc below them included
  other     the rest (the toggles in vipl_cg itself)
It lists every function outside libvipl that libvipl calls directly, with
its inclusive instructions per message. (Callgrind keeps counting calls
and system calls while collection is off, so only instruction counts are
used: they are collected exactly for the toggled calls.) Prints a CSV
line per dump:
  path,messages,vipl_ir,verbs_ir,total_ir,vipl_calls_out
and, with --detail FILE, every function that ran, with its own
instructions per message, to FILE. With --atomics LIB (libvipl.so),
FILE also lists the atomic read-modify-write instructions (lock-prefixed
or xchg with memory) in the code of the hot entry points, which a call
list cannot show: libvipl's queue lock is inline.
"""
import subprocess
import re
import sys
from collections import defaultdict

NAME = re.compile(r'^\((\d+)\)(?: (.*))?$')


def is_vipl(obj):
    return '/libvipl.so' in obj


def is_verbs(obj):
    return 'libibverbs' in obj or 'librxe' in obj or '/libibverbs/' in obj


def parse(path):
    names = defaultdict(dict)  # kind -> id -> name
    events = []
    self_cost = defaultdict(lambda: [0, 0])  # (ob, fn) -> [Ir, sysCount]
    calls_out = []  # (caller ob, fn, callee ob, fn, ncalls, Ir, sys)
    ob = fn = cob = cfn = None
    pending_calls = None

    def name(kind, value):
        m = NAME.match(value)
        if not m:
            return value
        ident, text = m.group(1), m.group(2)
        if text is not None:
            names[kind][ident] = text
            return text
        return names[kind].get(ident, value)

    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            if line.startswith('events:'):
                events = line.split()[1:]
                continue
            key, _, value = line.partition('=')
            if key in ('ob',):
                ob = name('ob', value)
                continue
            if key == 'fn':
                fn = name('fn', value)
                cob = None
                continue
            if key == 'cob':
                cob = name('ob', value)
                continue
            if key == 'cfn' or key == 'cfi' or key == 'cfl':
                if key == 'cfn':
                    cfn = name('fn', value)
                else:
                    name('fl', value)
                continue
            if key in ('fl', 'fi', 'fe'):
                name('fl', value)
                continue
            if key == 'calls':
                pending_calls = int(value.split()[0])
                continue
            if line[0] in '0123456789+-*':
                nums = line.split()[1:]
                vals = [int(x) for x in nums] + [0] * 3
                ir = vals[0]
                sysc = vals[events.index('sysCount')] if 'sysCount' in \
                    events else 0
                if pending_calls is not None:
                    calls_out.append((ob, fn, cob or ob, cfn,
                                      pending_calls, ir, sysc))
                    pending_calls = None
                    cob = None
                else:
                    c = self_cost[(ob, fn)]
                    c[0] += ir
                    c[1] += sysc
    return self_cost, calls_out


# What the hot path must not do, by the names of the libc functions that
# do it (matched at the start of the name).
CHECKS = (
    ('allocation', ('malloc', 'calloc', 'realloc', 'free', 'cfree',
                    'posix_memalign', 'aligned_alloc', 'mmap', 'munmap',
                    'brk', 'sbrk')),
    ('lock', ('pthread_mutex', 'pthread_spin_lock', 'pthread_spin_trylock',
              'pthread_rwlock', 'pthread_cond', 'sem_', '__lll_lock',
              'futex', '__pthread_mutex')),
    ('system call', ('write', 'read', 'ioctl', 'poll', 'epoll', 'select',
                     'futex', 'syscall', 'sched_yield', 'nanosleep',
                     'usleep', 'clock_nanosleep', 'send', 'recv')),
)


def checks(calls, n):
    """Who calls what the hot path must not do: one line per category."""
    found = defaultdict(lambda: defaultdict(int))
    for ob, fn, cob, cfn, k, ir, sysc in calls:
        if not ir or not cfn:
            continue
        base = cfn.split('@')[0].lstrip('_')
        for cat, names in CHECKS:
            if any(base == x or base.startswith(x + '_') or
                   (x.endswith('_') and base.startswith(x)) or
                   (cat == 'lock' and base.startswith(x))
                   for x in names):
                found[cat]['%s from %s [%s]' % (
                    cfn.split('@')[0], fn.split('@')[0], short(ob))] += ir
    lines = []
    for cat, _ in CHECKS:
        if not found[cat]:
            lines.append('%s: none' % cat)
        else:
            lines.append('%s: %s' % (cat, '; '.join(
                '%s (%.0f instr/msg)' % (k, v / n)
                for k, v in sorted(found[cat].items()))))
    return lines


HOT = ('vipl_impl_VipPostSend', 'vipl_impl_VipPostRecv',
       'vipl_impl_VipSendDone', 'vipl_impl_VipRecvDone')


def atomics(lib):
    """Atomic read-modify-write instructions in each hot entry point
    (its .cold part included), from objdump."""
    try:
        text = subprocess.run(['objdump', '-d', '--no-show-raw-insn', lib],
                              capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return ['atomics: objdump failed: %s' % e]
    found = defaultdict(list)
    fn = None
    for line in text.splitlines():
        m = re.match(r'^[0-9a-f]+ <([^>]+)>:$', line)
        if m:
            fn = m.group(1).split('.cold')[0]
            continue
        if fn not in HOT:
            continue
        insn = line.split(':', 1)[-1].strip()
        if insn.startswith('lock ') or (insn.startswith('xchg') and
                                          '(' in insn):
            found[fn].append(insn)
    return ['atomic read-modify-write in %s: %s' % (
        f, '; '.join(found[f]) if found[f] else 'none') for f in HOT]


def short(ob):
    return (ob or '?').rsplit('/', 1)[-1]


def main():
    args = sys.argv[1:]
    detail = None
    lib = None
    while args[0] in ('--detail', '--atomics'):
        if args[0] == '--detail':
            detail = open(args[1], 'w')
        else:
            lib = args[1]
        args = args[2:]
    if detail and lib:
        for line in atomics(lib):
            detail.write('%s\n' % line)
    n = int(args[0])
    print('path,messages,vipl_ir,verbs_ir,total_ir,vipl_calls_out')
    for dump in args[1:]:
        m = re.search(r'callgrind\.out\.\d+\.\d+(?:\.(\w+))?$', dump)
        label = open(dump).read(4096)
        lm = re.search(r'^desc: Trigger: Client Request: (\w+)', label,
                       re.M)
        path = lm.group(1) if lm else (m.group(1) if m else dump)
        self_cost, calls = parse(dump)
        total = sum(c[0] for c in self_cost.values())
        vipl = sum(c[0] for (ob, fn), c in self_cost.items()
                   if is_vipl(ob or ''))
        verbs = 0
        ext = defaultdict(lambda: [0, 0])
        for ob, fn, cob, cfn, k, ir, sysc in calls:
            if not is_vipl(ob or '') or is_vipl(cob or '') or not ir:
                continue
            ext[(cob, cfn)][0] += k
            ext[(cob, cfn)][1] += ir
            if is_verbs(cob or ''):
                verbs += ir
            else:
                vipl += ir  # libc on libvipl's behalf
        external = ' '.join(
            '%s[%s]:%.0f' % (fn.split('@')[0], short(ob), ir / n)
            for (ob, fn), (k, ir) in sorted(ext.items(),
                                           key=lambda x: -x[1][1]))
        print('%s,%d,%.1f,%.1f,%.1f,%s' % (
            path, n, vipl / n, verbs / n, total / n, external))
        if detail:
            detail.write('== %s: instructions per message, by function '
                         '(self)\n' % path)
            for line in checks(calls, n):
                detail.write('   %s\n' % line)
            for (ob, fn), c in sorted(self_cost.items(),
                                      key=lambda x: -x[1][0]):
                if c[0]:
                    detail.write('%8.1f  %-40s %s\n' % (
                        c[0] / n, fn.split('@')[0], short(ob)))


if __name__ == '__main__':
    main()
