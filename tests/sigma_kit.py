"""Hand-made Sysmon events and one-rule engines for the detection tests."""

from __future__ import annotations

import textwrap
from typing import Any

from maat.detect.sigma import Engine, RuleSet, load_rules

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def event(event_id: int = 1, **data: Any) -> dict[str, Any]:
    """A normalised Sysmon event with ``data`` as its event data."""
    out: dict[str, Any] = {f"winlog.event_data.{k}": v for k, v in data.items()}
    out.update({"winlog.channel": SYSMON, "winlog.event_id": event_id, "host.name": "ws1"})
    return out


def engine(detection: str, category: str = "process_creation") -> Engine:
    text = f"""
title: test rule
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
logsource:
    product: windows
    category: {category}
detection:
{detection}
"""
    rules = load_rules([("rule.yml", text)])
    built = Engine(rules)
    assert not built.problems, built.problems
    return built


def fires(built: Engine, ev: dict[str, Any]) -> bool:
    return bool(built.match(ev))


def process_rules(*detections: str) -> RuleSet:
    """One Windows process-creation rule per ``detection`` block, titled ``rule <n>``."""
    texts = [
        (f"rule{index}.yml", f"""
title: rule {index}
id: 00000000-0000-0000-0000-{index:012d}
status: test
level: high
logsource:
    product: windows
    category: process_creation
detection:
{textwrap.indent(textwrap.dedent(detection).strip(), "    ")}
""")
        for index, detection in enumerate(detections)
    ]  # fmt: skip
    rules = load_rules(texts)
    assert not rules.problems, rules.problems
    return rules


EVIL = """
    selection:
        CommandLine|contains: 'evilpayload'
    condition: selection"""
TOOL = """
    selection:
        Image|endswith: '\\\\tool.exe'
    condition: selection"""
