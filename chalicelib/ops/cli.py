"""The operators' commands (API.md): ``python -m chalicelib.cli --help``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from chalicelib import config, times, wiring
from chalicelib.adapters import aws
from chalicelib.adapters import keys as link_keys
from chalicelib.adapters.dynamodb.table import create_table
from chalicelib.errors import DomainError
from chalicelib.adapters import outbox
from chalicelib.model.person import STAFF_TOKEN_DAYS, STAFF_TOKEN_DAYS_MAX
from chalicelib.ops.seed import seed
from chalicelib.services import console, console_events, staff


# A person (and so their links) lives until the retention after their latest event, and events are
# published up to a year ahead: a rotation's overlap is that long.
LINK_KEY_OVERLAP_EXTRA_DAYS = 365


def _repo():
    """The stage's repository, built by the composition root."""
    return wiring.new_repo()


def bootstrap_refusal(settings: config.Settings) -> str | None:
    """Why ``bootstrap`` must not run with these settings, or None.

    It is for the local emulator: against a stage's AWS account it would
    create the table the stack owns, outside the stack, and the next deploy
    fails on the table's name.
    """
    if settings.is_local or settings.endpoint_url:
        return None
    return (f"error: bootstrap is for the local emulator (STAGE=local, or AWS_ENDPOINT_URL set), not stage "
            f"{settings.stage!r}: in AWS the stack creates table {settings.table_name!r}, and one made here "
            f"would make the next deploy fail on its name")


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Create the table and the sender identity where missing (the local emulator only)."""

    settings = wiring.get_settings()
    refusal = bootstrap_refusal(settings)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    created = create_table(aws.client("dynamodb"), settings.table_name)
    print(f"table {settings.table_name}: {'created' if created else 'exists'}")
    parameter = config.get("TOKEN_KEY_PARAMETER")
    ssm = aws.client("ssm")
    try:
        ssm.get_parameter(Name=parameter)
        print(f"link signing key {parameter}: exists")
    except ssm.exceptions.ParameterNotFound:
        import secrets

        ssm.put_parameter(Name=parameter, Type="SecureString", Value=secrets.token_urlsafe(48),
                          Description="Signs person ids and manage/feed/unsubscribe links. Changing it breaks every link sent.")
        print(f"link signing key {parameter}: created")
    ses = aws.client("ses")
    ses.verify_email_identity(EmailAddress=settings.sender_email)
    print(f"sender identity {settings.sender_email}: verification requested (moto verifies at once)")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    """Add the Smart Region Office's events if absent: published locally, drafts marked as samples elsewhere."""

    added = seed(_repo())
    print(f"seeded: {', '.join(added) if added else 'nothing new'}")
    if added and not wiring.get_settings().is_local:
        print("they are drafts marked [Sample], which the public does not see: fill in the real dates, "
              "hours, capacity and join links, then publish them (PATCH status=published)")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    token = staff.issue_token(_repo(), args.name, days=args.days)
    print(f"staff token for {args.name}, working {args.days} days (shown once; keep it secret):", file=sys.stderr)
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """Every staff token: its id (the start of its hash), whose, made, last used, expires, state."""
    rows = staff.list_tokens(_repo())
    columns = ("id", "name", "made", "last_used", "expires", "state")
    table = [("id", "name", "made", "last used", "expires", "state")] + \
        [tuple(row[c] or "never" for c in columns) for row in rows]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(str(value).ljust(width) for value, width in zip(line, widths)).rstrip())
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    count = staff.revoke_tokens(_repo(), args.name)
    print(f"revoked {count} token(s) of {args.name}")
    return 0 if count else 1


def _key_parameter() -> tuple[object, str, str]:
    """The SSM client, the link key parameter's name, and its value."""
    name = config.get("TOKEN_KEY_PARAMETER")
    ssm = aws.client("ssm")
    return ssm, name, ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def cmd_link_key_rotate(args: argparse.Namespace) -> int:
    """A new key signs person links from now on; the ones before read links for ``--overlap-days`` more."""
    days = args.overlap_days if args.overlap_days is not None else \
        wiring.get_settings().registration_retention_days + LINK_KEY_OVERLAP_EXTRA_DAYS
    if days < 1:
        print("error: --overlap-days must be at least 1", file=sys.stderr)
        return 2
    ssm, name, value = _key_parameter()
    rotated = link_keys.rotated_parameter(value, times.now(), timedelta(days=days))
    ssm.put_parameter(Name=name, Type="SecureString", Value=rotated, Overwrite=True)
    print(f"{name}: a new key signs person links from now on (once each Lambda has started afresh: deploy to "
          f"make that now); links signed before keep working for {days} days")
    return _print_link_keys(link_keys.describe_parameter(rotated, times.now()))


def cmd_link_key_show(args: argparse.Namespace) -> int:
    _, _, value = _key_parameter()
    return _print_link_keys(link_keys.describe_parameter(value, times.now()))


def _print_link_keys(rows: list[dict]) -> int:
    for row in rows:
        print(f"{row['fingerprint']}  made {row['made'] or 'at bootstrap'}  until {row['until'] or '-'}  {row['role']}")
    return 0


def cmd_staff_add(args: argparse.Namespace) -> int:
    """Put someone on the console's staff list."""
    member = console.add_member(_repo(), args.email, args.name, admin=args.admin, actor="cli")
    print(f"staff member {member.email} ({member.name}{', admin' if member.admin else ''}) added; they sign in at "
          f"{wiring.get_settings().base_url}/console")
    return 0


def cmd_staff_remove(args: argparse.Namespace) -> int:
    """Take someone off the staff list; their console sessions stop working at once."""
    if console.remove_member(_repo(), args.email, actor="cli"):
        print(f"staff member {args.email} removed; their sessions have ended")
        return 0
    print(f"{args.email} is not a staff member", file=sys.stderr)
    return 1


def cmd_staff_list(args: argparse.Namespace) -> int:
    for member in _repo().list_staff_members():
        print("\t".join([member.email, member.name] + (["admin"] if member.admin else [])))
    return 0


def cmd_staff_link(args: argparse.Namespace) -> int:
    """Print a sign-in link for a staff member instead of mailing it (valid 15 minutes, once)."""
    print(console.sign_in_url(_repo(), args.email, base_url=wiring.get_settings().base_url))
    return 0


def cmd_recount(args: argparse.Namespace) -> int:
    """Count each event's people waiting and interested anew (once, for events from before the console)."""
    for event_id, counts in console_events.recount(_repo()).items():
        print(f"{event_id}: waiting {counts['waiting_count']}, interested {counts['interested_count']}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    """Print the mail the app has sent (moto's server; local stage only)."""

    settings = wiring.get_settings()
    if not settings.is_local or not settings.endpoint_url:
        print("error: the outbox exists only in the local stage, with AWS_ENDPOINT_URL set to moto's server",
              file=sys.stderr)
        return 2
    try:
        mails = outbox.read(settings.endpoint_url)
    except OSError as exc:
        print(f"error: cannot read moto's server at {settings.endpoint_url}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(outbox.format_text(mails[: args.limit] if args.limit else mails))
    return 0


def cmd_send_due(args: argparse.Namespace) -> int:
    """One tick of reminders and notices, as of now or of ``--now`` (the same code as the schedule)."""
    import json
    from dataclasses import asdict


    now = times.parse_instant(args.now, "--now") if args.now else None
    repo = _repo()
    # The table first, so that a missing one (before bootstrap, a wrong
    # TABLE_NAME) is one error line, not the tick's logged stack trace of
    # its planning step followed by it.
    repo.get_event("-")
    result = wiring.send_due_now(now, time_budget=args.time_budget, repo=repo)
    print(json.dumps(asdict(result), sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("bootstrap", help="local emulator only: create the table and sender identity where missing").set_defaults(run=cmd_bootstrap)
    commands.add_parser("seed", help="add the office's events if absent (local: published; dev, prod: drafts marked as samples)").set_defaults(run=cmd_seed)
    outbox_cmd = commands.add_parser("outbox", help="local only: print the mail the app has sent, newest first")
    outbox_cmd.add_argument("--limit", type=int, default=0, help="print only the newest N mails")
    outbox_cmd.set_defaults(run=cmd_outbox)
    tokens = commands.add_parser("staff-token", help="issue, list or revoke staff tokens").add_subparsers(dest="action", required=True)
    create = tokens.add_parser("create", help="print a new token, once, alone on the last line")
    create.add_argument("name")
    create.add_argument("--days", type=int, default=STAFF_TOKEN_DAYS,
                        help=f"how many days it works (default {STAFF_TOKEN_DAYS}, at most {STAFF_TOKEN_DAYS_MAX})")
    create.set_defaults(run=cmd_token_create)
    tokens.add_parser("list", help="every token: whose, made, last used, expires (never the token)").set_defaults(
        run=cmd_token_list)
    revoke = tokens.add_parser("revoke", help="revoke every token of NAME")
    revoke.add_argument("name")
    revoke.set_defaults(run=cmd_token_revoke)
    members = commands.add_parser("staff", help="the console's staff list: add, remove, list; a sign-in link").add_subparsers(
        dest="action", required=True)
    add = members.add_parser("add", help="put EMAIL on the staff list as NAME (--admin: may add and remove staff)")
    add.add_argument("email")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may add and remove staff members in the console")
    add.set_defaults(run=cmd_staff_add)
    remove = members.add_parser("remove", help="take EMAIL off the staff list; their sessions end at once")
    remove.add_argument("email")
    remove.set_defaults(run=cmd_staff_remove)
    members.add_parser("list", help="every staff member: address, name, admin").set_defaults(run=cmd_staff_list)
    link = members.add_parser("sign-in-link", help="print a sign-in link for EMAIL (once, 15 minutes) instead of mailing it")
    link.add_argument("email")
    link.set_defaults(run=cmd_staff_link)
    commands.add_parser("recount-events", help="count each event's people waiting and interested anew, for the "
                        "console's list (once, after deploying it)").set_defaults(run=cmd_recount)
    key_commands = commands.add_parser("link-key", help="the keys that sign person links: show, rotate").add_subparsers(
        dest="action", required=True)
    rotate = key_commands.add_parser("rotate", help="a new signing key; links signed before keep working for the overlap")
    rotate.add_argument("--overlap-days", type=int, default=None,
                        help="how long links signed before keep working (default: REGISTRATION_RETENTION_DAYS + "
                             f"{LINK_KEY_OVERLAP_EXTRA_DAYS}, the longest a person and so their links may live)")
    rotate.set_defaults(run=cmd_link_key_rotate)
    key_commands.add_parser("show", help="each key's fingerprint, when made, accepted until (never the key)").set_defaults(
        run=cmd_link_key_show)
    due = commands.add_parser("send-due", help="one tick of reminders and notifications, as of now or --now ISO")
    due.add_argument("--now", help="the moment to run as, ISO 8601 (a time without offset is Brussels time)")
    due.add_argument("--time-budget", type=float, default=50.0, help="seconds the tick may run (default 50)")
    due.set_defaults(run=cmd_send_due)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except DomainError as exc:
        hint = ""
        if "ResourceNotFoundException" in exc.message:
            hint = f" (table {wiring.get_settings().table_name!r}: has bootstrap run, and is TABLE_NAME right?)"
        print(f"error: {exc.message}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
