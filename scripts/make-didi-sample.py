#!/usr/bin/env python3
"""make-didi-sample.py: regenerates traces/didi-sample.csv, a small synthetic trace in the Didi format.

What it makes: 12 vehicles over 60 s, one row per vehicle per second, in the exact CSV layout of the
processed DiDi GAIA Chengdu trajectories that the simulator reads (header
`,vehicle_id,time,longitude,latitude`; first column an unnamed row index; vehicle ids written as
floats like `3.0`; `longitude`/`latitude` hold x/y in whole metres on the same 2 km local map:
x in 0..1600 m, y in 271..2414 m). It is synthetic (no real data is copied): vehicles drive along
an axis-aligned street grid at 4..14 m/s and turn at random corners. Vehicles 4 and 9 enter late,
vehicles 7 and 10 leave early, vehicle 11 stands still, so that tests cover appearance and
disappearance.

How to run (from anywhere; Python 3 standard library only):
    scripts/make-didi-sample.py
Deterministic (fixed seed, only random.random() is used): re-running rewrites the same file.
"""

import os
import random

VEHICLES = 12
DURATION_S = 60
X_RANGE_M = (0.0, 1600.0)
Y_RANGE_M = (271.0, 2414.0)
# (enter, last) second of the vehicles that do not span the whole minute.
LIFETIMES_S = {4: (15, 59), 9: (32, 59), 7: (0, 40), 10: (5, 27)}
STANDING = {11}


def uniform(rng, lo, hi):
    return lo + (hi - lo) * rng.random()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "traces", "didi-sample.csv")
    rng = random.Random(20161116)
    rows = []
    for v in range(VEHICLES):
        enter, last = LIFETIMES_S.get(v, (0, DURATION_S - 1))
        x = uniform(rng, 100.0, 1500.0)
        y = uniform(rng, 400.0, 2300.0)
        speed = 0.0 if v in STANDING else uniform(rng, 4.0, 14.0)  # m/s
        heading = int(rng.random() * 4)  # 0:+x 1:+y 2:-x 3:-y
        for t in range(enter, last + 1):
            rows.append((float(v), t, round(x), round(y)))
            # Turn at a random corner now and then, and turn back at the map edge.
            if rng.random() < 0.05:
                heading = (heading + (1 if rng.random() < 0.5 else 3)) % 4
            dx, dy = [(1, 0), (0, 1), (-1, 0), (0, -1)][heading]
            nx, ny = x + dx * speed, y + dy * speed
            if not (X_RANGE_M[0] <= nx <= X_RANGE_M[1] and Y_RANGE_M[0] <= ny <= Y_RANGE_M[1]):
                heading = (heading + 2) % 4
                dx, dy = -dx, -dy
                nx, ny = x + dx * speed, y + dy * speed
            x, y = nx, ny
    with open(out, "w", newline="\n") as f:
        f.write(",vehicle_id,time,longitude,latitude\n")
        for i, (v, t, x, y) in enumerate(rows):
            f.write(f"{i},{v},{t},{float(x)},{float(y)}\n")
    print(f"wrote {out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
