import csv, statistics as st, sys, re
from collections import OrderedDict
def load(path):
    rows = OrderedDict()
    for r in csv.DictReader(open(path)):
        m = re.match(r'^(.*?)[#-](\d+)$', r['policy'])
        key, tag = (m.group(1), m.group(2)) if m else (r['policy'], '')
        rows.setdefault(key, []).append((tag, float(r['completion_rate'])*100, float(r['cumulative_reward']), float(r['migrations'])))
    return rows
def fmt(v):
    m = st.mean(v); s = st.stdev(v) if len(v) > 1 else 0.0
    return f"{m:.2f} ± {s:.2f}"
for path in sys.argv[1:]:
    rows = load(path)
    print(f"\n{path}")
    print("| policy | completion rate (%) | per learner seed (%) | cumulative reward | migrations |")
    print("|---|---|---|---|---|")
    orl = st.mean([x[1] for x in rows['orl']]) if 'orl' in rows else None
    for k, v in rows.items():
        rates = [x[1] for x in v]
        tags = OrderedDict()
        for t, r, *_ in v: tags.setdefault(t, []).append(r)
        per = " / ".join(f"{st.mean(x):.1f}" for x in tags.values()) if len(tags) > 1 else ""
        print(f"| {k} | {fmt(rates)} | {per} | {fmt([x[2] for x in v])} | {st.mean([x[3] for x in v]):.0f} |")
