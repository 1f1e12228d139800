import sys, re, time, datetime
base = sys.argv[1]
ts, te = map(float, open(base + '.times').read().split())
probe = []
for l in open(base + '.probe'):
    try: probe.append(float(l.strip()))
    except ValueError: pass
gaps = sorted(((b - a, a, b) for a, b in zip(probe, probe[1:])), reverse=True)[:5]
ev = []
for l in open(base + '.donor'):
    m = re.search(r'\((\d{8}) (\d\d:\d\d:\d\d\.\d+)\)$', l)
    if not m: continue
    t = datetime.datetime.strptime(m.group(1) + ' ' + m.group(2), '%Y%m%d %H:%M:%S.%f').timestamp()
    msg = re.sub(r'.*WSREP_SST: \[\w+\] ', '', l.strip())
    msg = re.sub(r'\s*\(\d{8} [\d:.]+\)$', '', msg)
    ev.append((t, msg[:110]))
# mariadbd's own wsrep lines (1 s resolution) about desync / pause / flush
for l in open(base + '.donorlog'):
    if re.search(r'desync|Desync|pause|resum|flush|FTWRL|Provider paused|Resuming', l) and 'WSREP_SST' not in l:
        m = re.match(r'(\d{4}-\d\d-\d\d\s+\d+:\d\d:\d\d)', l)
        if m:
            t = datetime.datetime.strptime(re.sub(r'\s+', ' ', m.group(1)), '%Y-%m-%d %H:%M:%S').timestamp()
            ev.append((t, '[mariadbd, 1 s] ' + l.strip()[:120]))
ev.sort()
print(f'probe writes: {len(probe)}; join {te - ts:.2f} s')
print('longest gaps between probe writes (s rel. to node 2 start):')
for g, a, b in gaps:
    print(f'  {g*1000:7.0f} ms  from {a - ts:7.2f} to {b - ts:7.2f}')
print('donor phases:')
for t, m in ev:
    print(f'  {t - ts:7.2f}  {m}')
# sysbench per-second
sb0 = float(open(base + '.sbstart').read())
print('sysbench seconds with max latency > 300 ms (interval end rel. to node 2 start):')
for l in open(base + '.sysbench'):
    m = re.match(r'\[ (\d+)s \].*lat \(ms,100%\): ([\d.]+)', l)
    if m and float(m.group(2)) > 300:
        print(f'  {sb0 + int(m.group(1)) - ts:7.2f}  {m.group(2)} ms')
# sampler around the worst gap
rows = []
for l in open(base + '.samples'):
    p = l.split()
    try:
        t = float(p[0]); i = p.index('loop'); j = p.index('vda'); k = p.index('cg')
        lo = list(map(int, p[i+1:j])); vd = list(map(int, p[j+1:k]))
        rest = ' '.join(p[k+1:])
        rows.append((t, lo, vd, rest))
    except (ValueError, IndexError):
        pass
if gaps and rows:
    g, a, b = gaps[0]
    print('samples around the worst gap: t  loopR MB/s  loopW MB/s  loop wr ops  inflight(r,w)  vda R/W MB/s  memcg / psi')
    prev = None
    for r in rows:
        if prev and a - 1.5 <= r[0] <= b + 0.5:
            dt = r[0] - prev[0]
            lr = (r[1][2] - prev[1][2]) * 512 / dt / 1e6; lw = (r[1][6] - prev[1][6]) * 512 / dt / 1e6
            lwo = r[1][4] - prev[1][4]
            vr = (r[2][2] - prev[2][2]) * 512 / dt / 1e6; vw = (r[2][6] - prev[2][6]) * 512 / dt / 1e6
            infl = (r[1][11], r[1][12]) if len(r[1]) > 12 else r[1][8]
            print(f'  {r[0]-ts:6.2f} {lr:7.1f} {lw:7.1f} {lwo:5d} {infl} {vr:7.1f} {vw:7.1f}  {r[3]}')
        prev = r

# summary: sysbench max latency, max queue, min tps during the join; CPU busy during the copy
mx=0; q=0; mt=1e9
for l in open(base + '.sysbench'):
    m = re.match(r'\[ (\d+)s \].*tps: ([\d.]+).*lat \(ms,100%\): ([\d.]+)', l)
    if m:
        t = sb0 + int(m.group(1)) - ts
        if -1 < t < te - ts + 1:
            mx = max(mx, float(m.group(3))); mt = min(mt, float(m.group(2)))
    m = re.match(r'\[ (\d+)s \] queue length: (\d+)', l)
    if m: q = max(q, int(m.group(2)))
cpu = []
for l in open(base + '.samples'):
    p = l.split()
    if 'cpu' in p:
        try:
            i = p.index('cpu'); v = list(map(int, p[i+1:i+9])); cpu.append((float(p[0]), sum(v), v[3] + v[4]))
        except ValueError:
            pass
busy = []
for a, b in zip(cpu, cpu[1:]):
    if b[1] > a[1]: busy.append((b[0] - ts, 100 * (1 - (b[2] - a[2]) / (b[1] - a[1]))))
s = [x for t, x in busy if 2 < t < te - ts - 1]
print(f'SUMMARY sysbench max lat {mx:.0f} ms, max queue {q}, min tps {mt:.0f}; probe worst gap {gaps[0][0]*1000:.0f} ms; cpu busy during copy {sum(s)/max(len(s),1):.0f}%')
