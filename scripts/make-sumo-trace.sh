#!/usr/bin/env bash
# make-sumo-trace.sh — regenerates traces/sumo-road.fcd.xml, the shipped SUMO FCD trace.
#
# What it makes: a straight two-way road 3 km long (x from 0 to 3000 m, y = 0), two lanes per
# direction, 120 km/h limit; vehicle flows enter at both ends (three vehicle types with different
# speed factors so that speeds differ per vehicle); SUMO runs it for 120 s at 1 s steps and writes
# Floating Car Data (one <vehicle id x y .../> per vehicle per step, positions in metres).
# Early vehicles cross the whole road and leave before the end, so the trace has vehicles that
# appear late and vehicles that leave early, which the reader's tests rely on.
#
# Inputs/intermediates (small text files, shipped): scripts/sumo/road.nod.xml, road.edg.xml
# (plain network description), road.net.xml (netconvert output), road.rou.xml (types and flows).
# Output: traces/sumo-road.fcd.xml (a few hundred kB).
#
# How to run (from anywhere; needs SUMO >= 1.15, e.g. `pip install eclipse-sumo`):
#     scripts/make-sumo-trace.sh
# It finds `netconvert` and `sumo` on PATH, or under $SUMO_HOME/bin, or via the Python package
# (`python3 -c "import sumo; print(sumo.SUMO_HOME)"`). It is deterministic (fixed --seed) and
# re-runnable: every file it writes is overwritten. Made with Eclipse SUMO 1.28.0.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/scripts/sumo"
out="$root/traces/sumo-road.fcd.xml"
mkdir -p "$work" "$root/traces"

find_tool() {
    local name="$1" home
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
    for home in "${SUMO_HOME:-}" "$(python3 -c 'import sumo; print(sumo.SUMO_HOME)' 2>/dev/null || true)"; do
        if [ -n "$home" ] && [ -x "$home/bin/$name" ]; then echo "$home/bin/$name"; return; fi
    done
    echo "error: cannot find SUMO's '$name' (install with: pip install eclipse-sumo)" >&2
    exit 1
}
NETCONVERT="$(find_tool netconvert)"
SUMO="$(find_tool sumo)"

# Two nodes 3 km apart on the x axis.
cat > "$work/road.nod.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Ends of the straight test road (metres). -->
<nodes>
    <node id="west" x="0.0" y="0.0" type="priority"/>
    <node id="east" x="3000.0" y="0.0" type="priority"/>
</nodes>
XML

# One edge per direction, 2 lanes each, 33.33 m/s (120 km/h) limit.
cat > "$work/road.edg.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<!-- The road: eastbound (+x) and westbound (-x), two lanes each. -->
<edges>
    <edge id="eastbound" from="west" to="east" numLanes="2" speed="33.33"/>
    <edge id="westbound" from="east" to="west" numLanes="2" speed="33.33"/>
</edges>
XML

# Vehicle types with different speed factors (cars, slower vans, trucks) and one flow per type
# and direction. Rates are kept low so that the FCD file stays small.
cat > "$work/road.rou.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Vehicle types and flows on the test road; departures spread over the first 100 s. -->
<routes>
    <vType id="car" vClass="passenger" speedFactor="normc(1.00,0.10,0.70,1.20)"/>
    <vType id="van" vClass="delivery" speedFactor="normc(0.85,0.08,0.60,1.00)"/>
    <vType id="truck" vClass="truck" maxSpeed="25.0" speedFactor="normc(0.90,0.05,0.70,1.00)"/>
    <route id="east" edges="eastbound"/>
    <route id="west" edges="westbound"/>
    <flow id="carE" type="car" route="east" begin="0" end="100" vehsPerHour="720" departLane="random" departSpeed="max"/>
    <flow id="carW" type="car" route="west" begin="0" end="100" vehsPerHour="540" departLane="random" departSpeed="max"/>
    <flow id="vanE" type="van" route="east" begin="0" end="100" vehsPerHour="180" departLane="random" departSpeed="max"/>
    <flow id="vanW" type="van" route="west" begin="0" end="100" vehsPerHour="180" departLane="random" departSpeed="max"/>
    <flow id="truckE" type="truck" route="east" begin="0" end="100" vehsPerHour="108" departLane="0" departSpeed="max"/>
    <flow id="truckW" type="truck" route="west" begin="0" end="100" vehsPerHour="108" departLane="0" departSpeed="max"/>
</routes>
XML

# Run from scripts/sumo with relative paths so that the configuration SUMO echoes into the
# headers of its outputs names no machine-specific directory.
cd "$work"
"$NETCONVERT" --node-files road.nod.xml --edge-files road.edg.xml \
    --no-turnarounds true --output-file road.net.xml --no-warnings true

"$SUMO" --net-file road.net.xml --route-files road.rou.xml \
    --begin 0 --end 120 --step-length 1 --seed 42 \
    --fcd-output ../../traces/sumo-road.fcd.xml --no-step-log true --duration-log.disable true --no-warnings true

echo "wrote $out ($(wc -c < "$out") bytes)"
