#!/usr/bin/env python3
"""summary.py DIR - the ratio table of a scripts/bench.sh run.

Reads DIR/raw.csv (vipl_bench and verbs_bench, several alternated reps),
DIR/tools.csv (perftest, fi_pingpong), DIR/scale.csv (vipl_scale and
verbs_scale), DIR/callgrind.csv;
prints the table and writes DIR/summary.csv and, for plot.gp, DIR/plot/*.dat.

Per test and size, each rep gives one VIPL figure and one twin figure,
measured next to each other; the ratio is VIPL/twin per rep, and the table
shows the median of those ratios and their range over the reps. Latency
is the median one-way time of a run (perftest's t_typical); bandwidth the
MB/s (2^20 bytes) of a run; connections, cycles per second (1 / the mean
cycle time).
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

TARGET = {'lat_send': ('<=', 1.02), 'lat_write': ('<=', 1.02),
          'bw_send': ('>=', 0.99), 'bw_write': ('>=', 0.99),
          'conn': ('>=', 0.90)}
TOOL = {'lat_send': 'send_lat', 'lat_write': 'write_lat',
        'bw_send': 'send_bw', 'bw_write': 'write_bw'}


def metric(row):
    t = row['test']
    if t.startswith('lat'):
        return float(row['median_us'])
    if t.startswith('bw'):
        return float(row['MBps'])
    return 1e6 / float(row['avg_us'])  # conn: cycles per second


def human(size):
    size = int(size)
    for unit, n in (('MiB', 1 << 20), ('KiB', 1 << 10)):
        if size >= n and size % n == 0:
            return '%d %s' % (size // n, unit)
    return '%d B' % size


def main():
    d = sys.argv[1]
    runs = defaultdict(dict)  # (test, size) -> impl -> {rep: value}
    avg = defaultdict(list)   # (test, size, impl) -> mean latencies
    path = os.path.join(d, 'raw.csv')
    if not os.path.exists(path):
        print('no results in %s' % d)
        return
    with open(path) as f:
        for row in csv.DictReader(f):
            try:
                key = (row['test'], int(row['size']))
                runs[key].setdefault(row['impl'], {})[row['rep']] = \
                    metric(row)
                avg[key + (row['impl'],)].append(float(row['avg_us']))
            except (KeyError, ValueError, ZeroDivisionError):
                continue
    tools = defaultdict(dict)
    path = os.path.join(d, 'tools.csv')
    if os.path.exists(path):
        with open(path) as f:
            for row in csv.DictReader(f):
                try:
                    tools[row['test']][int(row['size'])] = \
                        float(row['value'])
                except ValueError:
                    pass

    for name in ('env.txt', 'host.txt'):
        path = os.path.join(d, name)
        if os.path.exists(path):
            print(open(path).read().rstrip())
    os.makedirs(os.path.join(d, 'plot'), exist_ok=True)
    plot = {}
    out = open(os.path.join(d, 'summary.csv'), 'w')
    out.write('test,size,vipl,twin,ratio,ratio_min,ratio_max,reps,target,'
              'met,perftest,vipl_over_perftest,fi_pingpong_avg,'
              'vipl_over_fi\n')
    unit = {'lat': 'us', 'bw': 'MB/s', 'conn': '/s'}
    print('%-9s %8s %10s %10s %7s %15s %4s %10s %7s %9s %7s' % (
        'test', 'size', 'VIPL', 'twin', 'ratio', '[min - max]', 'ok',
        'perftest', 'V/pt', 'fi_pp', 'V/fi'))
    missed = []
    for (test, size) in sorted(runs, key=lambda k: (
            list(TARGET).index(k[0]) if k[0] in TARGET else 9, k[1])):
        by = runs[(test, size)]
        v, t = by.get('vipl', {}), by.get('verbs', {})
        reps = sorted(set(v) & set(t))
        if not reps:
            continue
        ratios = [v[r] / t[r] for r in reps if t[r]]
        rv = statistics.median(v[r] for r in reps)
        rt = statistics.median(t[r] for r in reps)
        ratio = statistics.median(ratios)
        op, lim = TARGET.get(test, ('<=', 0))
        met = ratio <= lim if op == '<=' else ratio >= lim
        if not met:
            missed.append('%s %s' % (test, human(size)))
        pt = tools.get(TOOL.get(test, ''), {}).get(size)
        # perftest's smallest send is 2 bytes: compare 1 B with it
        if pt is None and size == 1:
            pt = tools.get(TOOL.get(test, ''), {}).get(2)
        fi = tools.get('fi_lat', {}).get(size) if test == 'lat_send' \
            else None
        vpt = (rv / pt if test.startswith('lat') else rv / pt) \
            if pt else None
        # fi_pingpong gives only its mean; VIPL's mean is spoilt by the
        # host's stalls on a loaded machine, so its median is compared
        # (which favours VIPL when fi_pingpong's own median is lower).
        vfi = rv / fi if fi else None
        print('%-9s %8s %10.2f %10.2f %7.3f %15s %4s %10s %7s %9s %7s' % (
            test, human(size) if test != 'conn' else '-', rv, rt, ratio,
            '[%.3f - %.3f]' % (min(ratios), max(ratios)),
            'yes' if met else 'NO',
            '%.2f' % pt if pt else '-', '%.3f' % vpt if vpt else '-',
            '%.2f' % fi if fi else '-', '%.3f' % vfi if vfi else '-'))
        out.write('%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%s%.2f,%s,%s,%s,%s,'
                  '%s\n' % (test, size, rv, rt, ratio, min(ratios),
                            max(ratios), len(reps), op, lim,
                            'yes' if met else 'no',
                            '%.4f' % pt if pt else '',
                            '%.4f' % vpt if vpt else '',
                            '%.4f' % fi if fi else '',
                            '%.4f' % vfi if vfi else ''))
        plot.setdefault(test, []).append(
            (size, rv, min(v.values()), max(v.values()), rt,
             min(t.values()), max(t.values()), ratio, min(ratios),
             max(ratios), pt or float('nan'), fi or float('nan')))
    out.close()
    for test, rows in plot.items():
        with open(os.path.join(d, 'plot', test + '.dat'), 'w') as f:
            f.write('# size vipl vipl_min vipl_max twin twin_min twin_max '
                    'ratio ratio_min ratio_max perftest fi_pingpong\n')
            for r in rows:
                f.write(' '.join('%g' % x for x in r) + '\n')
    print('units: latency us (one way, median of a run), bandwidth MB/s, '
          'conn cycles/s; ratio = VIPL/twin per rep, median [range]')
    print('V/pt: VIPL over perftest (ib_send_lat, ib_write_lat, ib_send_bw, '
          'ib_write_bw); V/fi: VIPL median latency over fi_pingpong\'s mean')
    print('targets: latency <= 1.02, bandwidth >= 0.99, connections >= 0.9;'
          ' missed: %s' % (', '.join(missed) if missed else 'none'))

    path = os.path.join(d, 'scale.csv')
    if os.path.exists(path):
        scale(path)
    path = os.path.join(d, 'callgrind.csv')
    if os.path.exists(path):
        print('\ncallgrind: instructions per message (libvipl = its own '
              'code and libc on its behalf; verbs = libibverbs, provider)')
        cg = {}
        with open(path) as f:
            for row in csv.DictReader(f):
                cg[row['path']] = row
                print('%-6s libvipl %7s   verbs %7s   calls out of '
                      'libvipl: %s' % (row['path'], row['vipl_ir'],
                                       row['verbs_ir'],
                                       row['vipl_calls_out']))
        # What those instructions cost here: the server of vipl_cg timed
        # an empty VipRecvDone natively in the same boot.
        ns = None
        path = os.path.join(d, 'log', 'cg.server')
        if os.path.exists(path):
            for line in open(path):
                if 'calibration:' in line:
                    ns = float(line.split('calibration:')[1].split()[0])
        if ns and 'empty' in cg:
            e = cg['empty']
            per = ns / (float(e['vipl_ir']) + float(e['verbs_ir']))
            print('one instruction here: %.2f ns (an empty VipRecvDone: '
                  '%.0f ns natively for %.0f instructions)' % (
                      per, ns, float(e['vipl_ir']) + float(e['verbs_ir'])))
            if all(k in cg for k in ('send', 'recv', 'write')):
                # A ping-pong's one-way trip holds one post and one
                # completion of each kind that the twin does in verbs.
                one_send = float(cg['send']['vipl_ir']) + \
                    float(cg['recv']['vipl_ir'])
                one_write = float(cg['write']['vipl_ir'])
                print('libvipl per one-way trip: send/receive ping-pong '
                      '%.0f instructions = %.1f us; RDMA-write ping-pong '
                      '%.0f = %.1f us' % (one_send, one_send * per / 1e3,
                                          one_write,
                                          one_write * per / 1e3))
    path = os.path.join(d, 'failures.txt')
    if os.path.exists(path):
        print('\nfailures:')
        print(open(path).read().rstrip())


def scale(path):
    """VIs through one CQ: vipl_scale and its twin verbs_scale at each N,
    run back to back; the ratio is libvipl's messages/s over the twin's."""
    by = defaultdict(dict)  # vis -> impl -> row
    with open(path) as f:
        for row in csv.DictReader(f):
            try:
                by[int(row['vis'])][row.get('impl', 'vipl')] = row
            except (KeyError, ValueError):
                continue
    if not by:
        return
    print('\nscale: VIs through one CQ (vipl_scale; twin: verbs_scale, '
          'the same on raw verbs), messages/s both ways, memory per VI')
    print('%6s %10s %10s %7s   %-26s %s' % (
        'VIs', 'VIPL', 'twin', 'ratio', 'VIPL KiB/VI map/RSS/heap',
        'twin KiB/VI map/RSS/heap'))

    def mem(row):
        if not row:
            return '-'
        return '%s / %s / %s' % (row.get('vsz_kib_per_vi', '-'),
                                 row['rss_kib_per_vi'],
                                 row['heap_kib_per_vi'])

    def rate(row):
        try:
            return float(row['msg_per_s'])
        except (TypeError, KeyError, ValueError):
            return None
    for n in sorted(by):
        v, t = by[n].get('vipl'), by[n].get('verbs')
        rv, rt = rate(v), rate(t)
        print('%6d %10s %10s %7s   %-26s %s' % (
            n, '%.0f' % rv if rv else '-', '%.0f' % rt if rt else '-',
            '%.3f' % (rv / rt) if rv and rt else '-', mem(v), mem(t)))
    # One-time costs (thread stacks and malloc arenas of libvipl's
    # threads, first mappings) weigh on small N: the slope between the
    # two largest runs is what one more VI costs.
    ns = sorted(by)
    if len(ns) < 2:
        return
    na, nb = ns[-2], ns[-1]
    cols = ('vsz_kib_per_vi', 'rss_kib_per_vi', 'heap_kib_per_vi')
    for impl, name in (('vipl', 'VIPL'), ('verbs', 'twin')):
        a, b = by[na].get(impl), by[nb].get(impl)
        if not a or not b or any(c not in a or c not in b for c in cols):
            continue
        print('%6s %-5s one more VI (from %d to %d): mapped %.1f, RSS '
              '%.1f, heap %.1f KiB' % (
                  '+1', name, na, nb,
                  *((float(b[c]) * nb - float(a[c]) * na) / (nb - na)
                    for c in cols)))


if __name__ == '__main__':
    main()
