"""Benchmark: the access decision point against pycasbin and cedarpy on one policy.

    .venv/bin/python bench/bench_access.py [--rules 1000] [--requests 5000] [--http-seconds 10]

1. One generated policy of N rules (roles, resource globs, actions, ABAC conditions on device
   posture, segment, risk, hour; deny and step-up rules) is written three ways: Maat YAML,
   a Casbin ABAC model (``eval(p.cond)``), Cedar permit/forbid policies.
2. The same requests go to all three; their allow/deny answers are compared (Maat's
   step_up counts as deny, as the others cannot say it), so the figures compare equal work.
3. In-process latency per decision: p50 / p99 / mean for Maat (request already validated
   and from raw JSON), pycasbin ``enforce``, cedarpy ``is_authorized`` (one call) and
   ``is_authorized_batch`` (per decision).
4. Over HTTP: `maat serve` with the policy applied and enrolled devices; a client paces
   ``POST /v1/access/decide`` at 1,000 requests/s on loopback (keep-alive) and reports the
   latency percentiles. Posture and the caller's token are reused while the store's
   change epoch stands (one query per request checks it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from maat.access.evaluator import AccessRequest, Evaluator
from maat.access.policy import read_policy
from maat.services import devices

SEGMENTS = ["engineering", "office", "servers", "ot"]
ACTIONS = ["read", "write", "admin"]
POSTURES = ["trusted", "trusted", "trusted", "untrusted"]


def generate(n_rules: int, rng: random.Random) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Rules as plain dicts (effect, role, action, resource, conditions, mfa)."""
    roles = [f"team{i}" for i in range(max(10, n_rules // 20))]
    apps = [f"app{i}" for i in range(max(10, n_rules // 25))]
    rules = []
    for i in range(n_rules):
        effect = rng.choices(["allow", "deny", "step_up"], weights=[85, 10, 5])[0]
        conditions: list[tuple[str, str, Any]] = []
        if rng.random() < 0.5:
            conditions.append(("device.posture", "equals", "trusted"))
        if rng.random() < 0.3:
            conditions.append(("device.segment", "in", rng.sample(SEGMENTS, 2)))
        if rng.random() < 0.3:
            conditions.append(("subject.risk", "lt", rng.choice([30, 50, 70])))
        if rng.random() < 0.2:
            low = rng.randint(5, 9)
            conditions.append(("context.hour", "between", [low, low + 10]))
        if effect == "deny" and not conditions:
            conditions.append(("device.posture", "equals", "untrusted"))
        rules.append({
            "id": f"r{i}", "effect": effect, "role": rng.choice(roles),
            "action": rng.choice(ACTIONS), "resource": f"{rng.choice(apps)}/{rng.choice(['*', 'data/*', 'admin/*'])}",
            "when": conditions, "mfa": 600 if effect == "step_up" else None,
        })  # fmt: skip
    return rules, roles, apps


def maat_yaml(rules: list[dict[str, Any]]) -> str:
    lines = ["name: bench", "rules:"]
    for r in rules:
        when = ", ".join(f"{{attr: {a}, {op}: {json.dumps(v)}}}" for a, op, v in r["when"])
        mfa = f", mfa_within: {r['mfa']}" if r["mfa"] else ""
        lines.append(
            f"  - {{id: {r['id']}, effect: {r['effect']}, subjects: {{roles: [{r['role']}]}}, "
            f"actions: [{r['action']}], resources: ['{r['resource']}']"
            + (f", when: [{when}]" if when else "")
            + f"{mfa}}}"
        )
    return "\n".join(lines) + "\n"


_CASBIN_ATTR = {"device.posture": "r.sub.Posture", "device.segment": "r.sub.Segment",
                "subject.risk": "r.sub.Risk", "context.hour": "r.sub.Hour",
                "mfa_age": "r.sub.MfaAge"}  # fmt: skip
_CEDAR_ATTR = {"device.posture": "context.posture", "device.segment": "context.segment",
               "subject.risk": "principal.risk", "context.hour": "context.hour",
               "mfa_age": "context.mfa_age"}  # fmt: skip


def _condition(rule: dict[str, Any], names: dict[str, str], quote: str) -> str:
    """The rule's conditions in Casbin's or Cedar's expression syntax (they share it but for
    attribute names and string quotes); a step_up rule refuses when MFA is not fresh."""
    parts = []
    for attr, op, value in rule["when"]:
        name = names[attr]
        if op == "equals":
            parts.append(f"{name} == {quote}{value}{quote}")
        elif op == "in":
            parts.append("(" + " || ".join(f"{name} == {quote}{v}{quote}" for v in value) + ")")
        elif op == "lt":
            parts.append(f"{name} < {value}")
        elif op == "between":
            parts.append(f"{name} >= {value[0]} && {name} < {value[1]}")
    if rule["effect"] == "step_up":
        parts.append(f"{names['mfa_age']} > {rule['mfa']}")
    return " && ".join(parts)


def _casbin_cond(rule: dict[str, Any]) -> str:
    return _condition(rule, _CASBIN_ATTR, "'") or "1 == 1"


CASBIN_MODEL = """
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act, eft, cond

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub.Name, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act && eval(p.cond)
"""


def _cedar_cond(rule: dict[str, Any]) -> str:
    return _condition(rule, _CEDAR_ATTR, '"')


def cedar_policies(rules: list[dict[str, Any]]) -> str:
    out = []
    for r in rules:
        kind = "permit" if r["effect"] == "allow" else "forbid"
        cond = _cedar_cond(r)
        pattern = r["resource"]
        when = f'resource.path like "{pattern}"' + (f" && {cond}" if cond else "")
        out.append(f'{kind}(principal in Role::"{r["role"]}", action == Action::"{r["action"]}", '
                   f"resource) when {{ {when} }};")  # fmt: skip
    return "\n".join(out)


_TMP = tempfile.mkdtemp(prefix="maat-bench-")


def model_path(text: str) -> Path:
    """A Casbin model file (Casbin reads models from files)."""
    path = Path(_TMP) / f"model{abs(hash(text))}.conf"
    path.write_text(text)
    return path


def requests(n: int, roles: list[str], apps: list[str], rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append({
            "subject": {"id": f"u{i % 500}", "roles": rng.sample(roles, 3), "risk": rng.choice([0, 20, 40, 60, 90])},
            "device": {"id": f"ws{i % 50}", "posture": rng.choice(POSTURES), "segment": rng.choice(SEGMENTS)},
            "resource": f"{rng.choice(apps)}/{rng.choice(['data', 'admin', 'x'])}/{i % 97}",
            "action": rng.choice(ACTIONS),
            "context": {"hour": rng.randint(0, 23), "mfa_age": rng.choice([30, 3000])},
        })  # fmt: skip
    return out


def percentiles(samples_ns: list[int]) -> str:
    s = sorted(samples_ns)
    p50, p99 = s[len(s) // 2], s[int(len(s) * 0.99)]
    return (f"p50 {p50 / 1000:8.1f} µs  p99 {p99 / 1000:8.1f} µs  "
            f"mean {statistics.fmean(s) / 1000:8.1f} µs")  # fmt: skip


def timed(fn: Any, items: list[Any]) -> tuple[list[int], list[Any]]:
    samples, answers = [], []
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        answers.append(fn(item))
        samples.append(clock() - start)
    return samples, answers


def in_process(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    rng = random.Random(20261126)
    rules, roles, apps = generate(args.rules, rng)
    text = maat_yaml(rules)
    policy, problems = read_policy(text, source="bench")
    assert policy is not None, problems[:3]
    evaluator = Evaluator(policy)
    reqs = requests(args.requests, roles, apps, rng)
    prepared = [AccessRequest.from_dict(r) for r in reqs]
    print(f"policy: {len(policy.rules):,} rules, {len(roles)} roles, {len(apps)} applications; "
          f"{len(reqs):,} requests")  # fmt: skip
    for _ in range(2):  # warm
        timed(evaluator.decide, prepared[:500])
    ns, maat = timed(evaluator.decide, prepared)
    print(f"maat decide (validated request)      {percentiles(ns)}")
    ns_raw, _ = timed(lambda r: evaluator.decide(AccessRequest.from_dict(r)), reqs)
    print(f"maat from JSON dict + decide         {percentiles(ns_raw)}")
    maat_allow = [d.decision == "allow" for d in maat]
    maat_mean = statistics.fmean(ns)
    counts = {k: sum(1 for d in maat if d.decision == k) for k in ("allow", "deny", "step_up")}
    print(f"maat outcomes: {counts}")

    import casbin

    enforcer = casbin.Enforcer(str(model_path(CASBIN_MODEL)))
    for r in rules:
        eft = "allow" if r["effect"] == "allow" else "deny"
        enforcer.add_policy(r["role"], r["resource"], r["action"], eft, _casbin_cond(r))
    users: dict[str, set[str]] = {}
    for q in reqs:
        users.setdefault(q["subject"]["id"], set())
    # Casbin's users hold roles through grouping policies: one user per request keeps
    # the roles exactly those of the request.
    subjects = []
    for i, q in enumerate(reqs):
        name = f"q{i}"
        for role in q["subject"]["roles"]:
            enforcer.add_grouping_policy(name, role)

        class Sub:
            pass

        sub = Sub()
        sub.Name, sub.Risk = name, q["subject"]["risk"]  # type: ignore[attr-defined]
        sub.Posture, sub.Segment = q["device"]["posture"], q["device"]["segment"]  # type: ignore[attr-defined]
        sub.Hour, sub.MfaAge = q["context"]["hour"], q["context"]["mfa_age"]  # type: ignore[attr-defined]
        subjects.append((sub, q["resource"], q["action"]))
    n_casbin = min(len(subjects), args.peer_requests)
    ns_c, casbin_answers = timed(lambda s: enforcer.enforce(*s), subjects[:n_casbin])
    print(f"pycasbin enforce ({n_casbin:,})          {percentiles(ns_c)}")
    agree_c = sum(a == b for a, b in zip(maat_allow, casbin_answers, strict=False))
    print(f"  agreement with maat: {agree_c}/{n_casbin}")
    # The same enforcer without the ABAC conditions (RBAC and resource globs only): the
    # part of Casbin's cost that is not its expression evaluator.
    rbac = casbin.Enforcer(str(model_path(CASBIN_MODEL.replace(" && eval(p.cond)", ""))))
    for r in rules:
        rbac.add_policy(r["role"], r["resource"], r["action"], "allow" if r["effect"] == "allow"
                        else "deny", "")  # fmt: skip
    for i, q in enumerate(reqs[:n_casbin]):
        for role in q["subject"]["roles"]:
            rbac.add_grouping_policy(f"q{i}", role)
    ns_rbac, _ = timed(lambda s: rbac.enforce(*s), subjects[:n_casbin])
    print(f"pycasbin, RBAC part only             {percentiles(ns_rbac)}")

    import cedarpy

    policies = cedar_policies(rules)
    entities = [{"uid": {"__entity": {"type": "Role", "id": role}}, "attrs": {}, "parents": []}
                for role in roles]  # fmt: skip
    cedar_reqs = []
    for i, q in enumerate(reqs):
        uid = f"q{i}"
        entities.append({"uid": {"__entity": {"type": "User", "id": uid}},
                         "attrs": {"risk": q["subject"]["risk"]},
                         "parents": [{"__entity": {"type": "Role", "id": r}} for r in q["subject"]["roles"]]})  # fmt: skip
        entities.append({"uid": {"__entity": {"type": "Resource", "id": f"res{i}"}},
                         "attrs": {"path": q["resource"]}, "parents": []})  # fmt: skip
        cedar_reqs.append({
            "principal": f'User::"{uid}"', "action": f'Action::"{q["action"]}"',
            "resource": f'Resource::"res{i}"',
            "context": {"posture": q["device"]["posture"], "segment": q["device"]["segment"],
                        "hour": q["context"]["hour"], "mfa_age": q["context"]["mfa_age"]},
        })  # fmt: skip
    n_cedar = min(len(cedar_reqs), max(20, args.peer_requests // 50))
    role_entities = entities[: len(roles)]

    def one_call(i: int) -> Any:
        # One request with just the entities it needs: its principal, roles and resource.
        own = entities[len(roles) + 2 * i : len(roles) + 2 * i + 2]
        return cedarpy.is_authorized(cedar_reqs[i], policies, role_entities + own)

    ns_single, single = timed(one_call, list(range(n_cedar)))
    print(f"cedarpy is_authorized ({n_cedar})         {percentiles(ns_single)}")
    start = time.perf_counter_ns()
    batch = cedarpy.is_authorized_batch(cedar_reqs, policies, entities)
    per_batch = (time.perf_counter_ns() - start) / len(cedar_reqs)
    print(f"cedarpy is_authorized_batch          {per_batch / 1000:8.1f} µs per decision "
          f"({len(cedar_reqs):,} in one batch)")  # fmt: skip
    cedar_allow = [b.allowed for b in batch]
    agree_k = sum(a == b for a, b in zip(maat_allow, cedar_allow, strict=True))
    agree_single = sum(a == b.allowed for a, b in zip(maat_allow, single, strict=False))
    print(
        f"  agreement with maat: {agree_k}/{len(cedar_reqs)} (batch), {agree_single}/{n_cedar} (single)"
    )
    print(f"ratios (mean per decision): pycasbin / maat = {statistics.fmean(ns_c) / maat_mean:,.0f}x; "
          f"cedarpy single / maat = {statistics.fmean(ns_single) / maat_mean:,.0f}x; "
          f"cedarpy batched / maat = {per_batch / maat_mean:,.1f}x; pycasbin RBAC part / maat = "
          f"{statistics.fmean(ns_rbac) / maat_mean:,.0f}x")  # fmt: skip
    return text, reqs


def over_http(text: str, reqs: list[dict[str, Any]], seconds: float, rate: int) -> None:
    from maat.services import access, tokens, users
    from maat.services.platform import Platform
    from maat_testkit import make_settings
    from serve_kit import Server

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        platform = Platform.open(make_settings(data), create=True)
        platform.store.migrate()
        users.add_user(platform, "bench", "proxy", ["agent"], password="a-long-proxy-password")  # noqa: S106
        token = tokens.create_token(platform, "bench", "proxy", "bench").text
        access.apply_policy(platform, "bench", text, source="bench")
        users.add_user(platform, "bench", "agents", ["agent"], password="a-long-agent-password")  # noqa: S106
        for i in range(50):  # healthy devices: enrolled, their agents heart-beating
            device, _ = devices.enrol_device(platform, "bench", f"ws{i}", agent_user="agents",
                                            tags=("engineering",))  # fmt: skip
            assert device.token_id is not None
            devices.heartbeat(platform, device.token_id)
        platform.close()
        server = Server(data, MAAT_LOG_LEVEL="warning")
        server.start()
        try:
            host, port = server.base.removeprefix("http://").split(":")
            bodies = [json.dumps(r).encode() for r in reqs]
            # Warm up: the first request loads the policy; every device and subject once.
            asyncio.run(_paced(host, int(port), token, bodies, len(bodies) / 2000, 2000))
            sent, due = asyncio.run(_paced(host, int(port), token, bodies, seconds, rate))
            print(f"HTTP POST /v1/access/decide, {rate:,} req/s for {seconds:.0f} s:")
            print(f"  from send                          {percentiles(sent)}")
            print(f"  from schedule (client timer jitter) {percentiles(due)}")
            # The same client on a route that does nothing (a 404): the floor of this
            # client, uvicorn and loopback on this machine.
            floor, _ = asyncio.run(_paced(host, int(port), None, [], seconds, rate,
                                          path="/no-such-route"))  # fmt: skip
            print(f"  floor: GET of a 404, same client   {percentiles(floor)}")
        finally:
            server.stop()


async def _paced(
    host: str,
    port: int,
    token: str | None,
    bodies: list[bytes],
    seconds: float,
    rate: int,
    *,
    path: str = "/v1/access/decide",
) -> tuple[list[int], list[int]]:
    """An open-loop client on one event loop: requests are scheduled ``rate`` per second
    over 8 keep-alive connections whatever the answers' latency. Returns two latency lists:
    from the moment each request was sent, and from the moment it was scheduled (which adds
    the client's own timer lateness and any queueing behind slow answers)."""
    connections = 8
    sent_latency: list[int] = []
    due_latency: list[int] = []
    start_at = time.perf_counter_ns()
    interval_ns = int(1e9 / rate)
    total = int(seconds * rate)

    async def connection(k: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        for i in range(k, total, connections):
            due = start_at + i * interval_ns
            delay = (due - time.perf_counter_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            body = bodies[i % len(bodies)] if bodies else b""
            method = b"POST " if bodies else b"GET "
            sent = time.perf_counter_ns()
            writer.write(method + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n" + auth
                         + b"Content-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done = time.perf_counter_ns()
            sent_latency.append(done - sent)
            due_latency.append(done - max(due, start_at))
            assert status.startswith(b"HTTP/1.1 200") or not bodies, status
        writer.close()

    await asyncio.gather(*(connection(k) for k in range(connections)))
    return sent_latency, due_latency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--peer-requests", type=int, default=1000)
    parser.add_argument("--http-seconds", type=float, default=10)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("MAAT_LOG_LEVEL", "warning")
    text, reqs = in_process(args)
    if args.http_seconds > 0:
        over_http(text, reqs, args.http_seconds, args.rate)


if __name__ == "__main__":
    main()
