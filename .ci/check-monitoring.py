#!/usr/bin/env python3
"""Keeps the monitoring files true to the server: every metric that the Grafana dashboard, the alert rules
and README's "Operating it" section name must be in a real /metrics scrape, and every messenger_* family of
the scrape must be documented in README.

    python3 .ci/check-monitoring.py SCRAPE_FILE

SCRAPE_FILE is the text of GET /metrics from a server that has seen traffic (.ci/smoke.sh makes one).
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docker/grafana/dashboards/messenger.json"
DATASOURCES = ROOT / "docker/grafana/provisioning/datasources/prometheus.yml"
ALERTS = ROOT / "docker/prometheus/alerts.yml"
README = ROOT / "README.md"
NAME = re.compile(r"\b((?:messenger|process)_[a-z0-9_]+)\b")
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def scraped(text):
    """Sample names, and the family names of # TYPE lines."""
    samples, families = set(), set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
        elif line and not line.startswith("#"):
            samples.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return samples, families


def dashboard_exprs():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard.get("uid") and dashboard.get("title"), "the dashboard needs a uid and a title"
    provisioned = re.search(r"uid:\s*(\S+)", DATASOURCES.read_text()).group(1)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["current"]["value"] == provisioned, "the default data source is not the provisioned one"
    exprs = []
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels, "the dashboard has no panels"
    for panel in panels:
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", f"panel {panel['title']!r} names its own data source"
            exprs.append((f"dashboard panel {panel['title']!r}", target["expr"]))
    return exprs


def readme_section():
    text = README.read_text()
    match = re.search(r"^## Operating it\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README.md has no \"## Operating it\" section"
    return match.group(1)


def main():
    samples, families = scraped(Path(sys.argv[1]).read_text())
    assert "messenger_ws_connections" in samples, "the scrape is not of a messenger"
    uses = dashboard_exprs()
    uses += [("docker/prometheus/alerts.yml", line) for line in ALERTS.read_text().splitlines() if "messenger_" in line]
    uses += [("README.md, Operating it", line) for line in readme_section().splitlines()]
    missing = []
    for where, text in uses:
        for name in NAME.findall(text):
            if name not in samples and name not in families:
                missing.append(f"{where}: {name}")
    documented = set(NAME.findall(readme_section()))
    undocumented = sorted(f for f in families if f.startswith("messenger_") and f not in documented)
    for problem in missing:
        print(f"not in /metrics: {problem}", file=sys.stderr)
    for family in undocumented:
        print(f"not documented in README's Operating it: {family}", file=sys.stderr)
    if missing or undocumented:
        return 1
    print(f"dashboard ({len(dashboard_exprs())} queries), alert rules and README name only metrics the server serves;"
          f" all {len([f for f in families if f.startswith('messenger_')])} messenger_* families are documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
