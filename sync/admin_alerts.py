"""``cinepass-admin alerts`` and ``alert-rules``: what the 7x24 duty reads and acts on.

* ``alerts [--open] [--json]`` — the alerts, newest activity first. ``--json`` prints
  a list of objects with ``id``, ``rule``, ``severity``, ``status`` (``open | acked |
  resolved``), ``cinema``, ``device``, ``voucher``, ``member``, ``first_seen``,
  ``last_seen``, ``count`` (a contract other tools read; more keys may follow).
* ``alerts show ID [--json]`` — one alert with its evidence (record and refusal ids).
* ``alerts ack ID --note TEXT`` / ``alerts resolve ID --note TEXT`` — audited
  (:func:`sync.office.audit.record`), actor ``--actor`` or the login name.
* ``alerts digest [--date YYYY-MM-DD] [--json]`` — the day's digest (China Standard
  Time; default today): per rule new, open and resolved, and the top subjects.
* ``alert-rules [--alert-rules FILE] [--json]`` — the effective thresholds.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from typing import Any

from sync.admin_common import add_common, session
from sync.cliparse import Parser
from sync.errors import EXIT_OK
from sync.office import alerts, alerts_digest
from sync.office.alerts_config import load_rules


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return str(args.actor)
    try:
        return os.environ.get("CINEPASS_ACTOR") or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def cmd_alerts(args: argparse.Namespace) -> int:
    with session(args) as s:
        rows = [alerts.alert_json(a) for a in alerts.list_alerts(s, open_only=args.open)]
    if args.json or not rows:  # an empty list is a list in JSON, a sentence otherwise
        print(
            json.dumps(rows, ensure_ascii=False, indent=2) if args.json else "没有告警 / no alerts"
        )
        return EXIT_OK
    head = ("id", "rule", "severity", "status", "cinema", "device", "voucher", "member")
    print("\t".join((*head, "last_seen", "count")))
    for r in rows:
        print("\t".join([*(str(r[k] or "-") for k in head), r["last_seen"], str(r["count"])]))
    return EXIT_OK


def cmd_alert_show(args: argparse.Namespace) -> int:
    with session(args) as s:
        row = alerts.alert_json(alerts.get_alert(s, args.id), full=True)
    if args.json:
        print(json.dumps(row, ensure_ascii=False, indent=2))
        return EXIT_OK
    for key, value in row.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        print(f"{key}: {shown}")
    return EXIT_OK


def _change(args: argparse.Namespace, what: str) -> int:
    fn = alerts.ack if what == "ack" else alerts.resolve
    with session(args) as s:
        a = fn(s, args.id, note=args.note, actor=_actor(args))
        status = a.status
    zh, en = {"acked": ("已确认", "acknowledged"), "resolved": ("已解决", "resolved")}[status]
    print(f"告警 {args.id} {zh} / alert {args.id} {en}")
    return EXIT_OK


def cmd_alert_ack(args: argparse.Namespace) -> int:
    return _change(args, "ack")


def cmd_alert_resolve(args: argparse.Namespace) -> int:
    return _change(args, "resolve")


def cmd_alert_digest(args: argparse.Namespace) -> int:
    day = alerts_digest.parse_day(args.date)
    with session(args) as s:
        d = alerts_digest.digest(s, day)
    print(
        json.dumps(d, ensure_ascii=False, indent=2) if args.json else alerts_digest.digest_text(d),
        end="\n" if args.json else "",
    )
    return EXIT_OK


def cmd_alert_rules(args: argparse.Namespace) -> int:
    settings = load_rules(args.alert_rules)
    data: dict[str, Any] = settings.to_json()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"# {data['source']}")
    for rule, values in data["rules"].items():
        print(f"[{rule}]")
        for k, v in values.items():
            print(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    hours = data["opening_hours"]
    print(f"[opening_hours]\nopens = {hours['opens']!r}\ncloses = {hours['closes']!r}")
    for code, spec in hours["cinemas"].items():
        print(f"[opening_hours.cinemas.{code}] {json.dumps(spec)}")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``alerts`` and ``alert-rules`` to ``cinepass-admin``'s subparsers."""
    p = sub.add_parser("alerts", help="monitoring alerts (open, acked, resolved)")
    add_common(p)
    p.add_argument("--open", action="store_true", help="only alerts not resolved")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_alerts)
    asub = p.add_subparsers(dest="alerts_command", required=False, parser_class=Parser)
    reads: tuple[tuple[str, Any, str, str, dict[str, Any]], ...] = (
        ("show", cmd_alert_show, "one alert with its evidence", "id", {"type": int}),
        (
            "digest",
            cmd_alert_digest,
            "the day's digest: per rule new, open, resolved",
            "--date",
            {"default": None, "help": "YYYY-MM-DD (China Standard Time; default today)"},
        ),
    )
    for name, func, help_, arg, kw in reads:
        r = asub.add_parser(name, help=help_)
        add_common(r)
        r.add_argument(arg, **kw)
        r.add_argument("--json", action="store_true")
        r.set_defaults(func=func)
    for name, func, help_ in (
        ("ack", cmd_alert_ack, "acknowledge: someone is on it"),
        ("resolve", cmd_alert_resolve, "resolve: closed, with what was found"),
    ):
        c = asub.add_parser(name, help=help_)
        add_common(c)
        c.add_argument("id", type=int)
        c.add_argument("--note", required=True)
        c.add_argument("--actor", default=None, help="who (default: the login name)")
        c.set_defaults(func=func)
    r = sub.add_parser("alert-rules", help="the alert rules' effective thresholds")
    add_common(r)
    r.add_argument("--alert-rules", default=None, metavar="FILE", help="a TOML file of thresholds")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_alert_rules)
