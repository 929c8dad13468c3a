#!/usr/bin/env python3
"""Medians per benchmark from the JSON lines bench/run.sh writes, as a Markdown table."""
import json
import statistics
import sys
from collections import defaultdict


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "–" if value is None else f"{value:,.{digits}f}"


runs = defaultdict(list)
with open(sys.argv[1]) as lines:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        runs[entry["bench"]].append(entry.get("report"))

print("| benchmark | runs | msgs/s | deliveries/s | p50 ms | p99 ms | lost | dup | server CPU % | server RSS MB | RSS KB/idle conn |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for bench, reports in runs.items():
    reports = [r for r in reports if isinstance(r, dict)]
    if not reports or "deliveries_per_s" not in reports[0]:
        continue
    server = [r.get("server") or {} for r in reports]
    print(
        f"| {bench} | {len(reports)} | {fmt(median([r['msgs_per_s'] for r in reports]), 0)}"
        f" | {fmt(median([r['deliveries_per_s'] for r in reports]), 0)}"
        f" | {fmt(median([r['delivery_latency']['p50_ms'] for r in reports]), 2)}"
        f" | {fmt(median([r['delivery_latency']['p99_ms'] for r in reports]), 2)}"
        f" | {sum(r['lost'] for r in reports)} | {sum(r['duplicate_deliveries'] for r in reports)}"
        f" | {fmt(median([s.get('cpu_percent') for s in server]))}"
        f" | {fmt(median([s.get('rss_peak_mb') for s in server]))}"
        f" | {fmt(median([s.get('rss_kb_per_idle_connection') for s in server]))} |"
    )

history = runs.get("history", [])
if history:
    print()
    print("| GET /history scenario | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|")
    by_name = defaultdict(list)
    for report in history:
        for scenario in (report or {}).get("scenarios", []):
            by_name[f"{scenario['name']} ({scenario['query']})"].append(scenario.get("latency") or scenario)
    for name, latencies in by_name.items():
        print(f"| {name} | {fmt(median([l['p50_ms'] for l in latencies]), 2)} | {fmt(median([l['p95_ms'] for l in latencies]), 2)} | {fmt(median([l['p99_ms'] for l in latencies]), 2)} |")

sync = runs.get("sync", [])
if sync:
    print()
    print("| POST /sync scenario | p50 ms | p95 ms | p99 ms | req/s | response bytes | failures |")
    print("|---|---|---|---|---|---|---|")
    by_name = defaultdict(list)
    for report in sync:
        for scenario in (report or {}).get("scenarios", []) if isinstance(report, dict) else []:
            by_name[scenario["name"]].append(scenario)
    for name, scenarios in by_name.items():
        print(
            f"| {name} | {fmt(median([s['p50_ms'] for s in scenarios]), 2)}"
            f" | {fmt(median([s['p95_ms'] for s in scenarios]), 2)}"
            f" | {fmt(median([s['p99_ms'] for s in scenarios]), 2)}"
            f" | {fmt(median([s['requests_per_s'] for s in scenarios]), 0)}"
            f" | {fmt(median([s['mean_response_bytes'] for s in scenarios]), 0)}"
            f" | {sum(s['failures'] for s in scenarios)} |"
        )


def spread(values, digits=2):
    """The median with the range of the runs: `12.34 [10.00–15.00]` (just the value for a single run)."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return fmt(values[0], digits)
    return f"{fmt(statistics.median(values), digits)} [{fmt(min(values), digits)}–{fmt(max(values), digits)}]"


def search_table(title, reports, key):
    by_name = defaultdict(list)
    for report in reports:
        for scenario in (report or {}).get(key, []) if isinstance(report, dict) else []:
            by_name[scenario["name"]].append(scenario)
    if not by_name:
        return
    print()
    print(f"| {title} | runs | p50 ms | p90 ms | p99 ms | max ms | results | failures |")
    print("|---|---|---|---|---|---|---|---|")
    for name, scenarios in by_name.items():
        print(
            f"| {name} | {len(scenarios)} | {spread([s['p50_ms'] for s in scenarios])}"
            f" | {fmt(median([s['p90_ms'] for s in scenarios]), 2)}"
            f" | {spread([s['p99_ms'] for s in scenarios])}"
            f" | {fmt(median([s['max_ms'] for s in scenarios]), 1)}"
            f" | {fmt(median([s['mean_items'] for s in scenarios]), 0)}"
            f" | {sum(s['failures'] for s in scenarios)} |"
        )


search = runs.get("search", [])
if search:
    for corpus in runs.get("search_corpus", []):
        print()
        print("Messages matching each query (chat / all the user's chats): " + ", ".join(
            f"{q!r} {c['chat']:,} / {c['all']:,}" for q, c in (corpus or {}).items()))
    search_table("GET /search/messages, one at a time", search, "scenarios")
    rates = [r.get("concurrent_requests_per_s") for r in search if isinstance(r, dict)]
    concurrency = next((s["concurrency"] for r in search if isinstance(r, dict) for s in r.get("concurrent", [])), None)
    if concurrency:
        search_table(f"first pages interleaved, {concurrency} at a time ({spread(rates, 0)} req/s)", search, "concurrent")

biggroup = [r for r in runs.get("biggroup", []) if isinstance(r, dict)]
if biggroup:
    setups = [r["setup"] for r in biggroup]
    print()
    print(
        f"Big group: {setups[0]['members']:,} members; setup medians: register {spread([s['register_s'] for s in setups], 0)} s,"
        f" group {spread([s['group_s'] for s in setups], 0)} s, connect {spread([s['connect_s'] for s in setups], 0)} s;"
        f" server RSS {spread([s.get('server_rss_before_connect_mb') for s in setups], 0)} →"
        f" {spread([s.get('server_rss_connected_mb') for s in setups], 0)} MB connected"
    )
    print()
    print("| msgs/s offered | runs | deliveries/s | p50 ms | p90 ms | p99 ms | max ms | lost | dup | disconnects | server CPU % | loadgen CPU % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    by_rate = defaultdict(list)
    for report in biggroup:
        for phase in report.get("phases", []):
            by_rate[phase["rate"]].append(phase)
    for rate, phases in by_rate.items():
        lat = [p["delivery_latency"] for p in phases]
        print(
            f"| {rate:g} | {len(phases)} | {spread([p['deliveries_per_s'] for p in phases], 0)}"
            f" | {spread([l['p50_ms'] for l in lat])} | {fmt(median([l['p90_ms'] for l in lat]), 1)}"
            f" | {spread([l['p99_ms'] for l in lat])} | {fmt(median([l['max_ms'] for l in lat]), 1)}"
            f" | {sum(p['lost'] for p in phases)} | {sum(p['duplicate_deliveries'] for p in phases)}"
            f" | {sum(p['disconnects'] for p in phases)}"
            f" | {fmt(median([(p.get('server') or {}).get('cpu_percent') for p in phases]), 0)}"
            f" | {fmt(median([p['loadgen_cpu_percent'] for p in phases]), 0)} |"
        )
