"""Human review of a teacher run's records.

    python -m distill.review RUN_OR_RECORDS [--strategy strata] [--host 127.0.0.1] [--port 8765] [--reviewer NAME]
                                            [--token T] [config overrides]
    python -m distill.review export RUN_OR_RECORDS [--out labels.jsonl]
    python -m distill.review stats RUN_OR_RECORDS
    python -m distill.review simulate RUN_OR_RECORDS --n 200 [--strategy strata] [--noise 0.1] [config overrides]
    python -m distill.review reask RUN_OR_RECORDS --n 200 [--strategy strata] [--reasks 4] [config overrides]

RUN_OR_RECORDS is a run folder (its ``teacher_records.jsonl``) or a records file; labels live in
``review.sqlite`` beside the records. ``--strategy`` orders the queue (``distill.review.strategies``: uniform,
strata, disputed, unstable); ``unstable`` re-asks the run's answerer, rebuilt from the config overrides (the run's
``world=`` and ``seed=``). ``simulate`` labels with the synthetic world's exact oracle, through the same store
(pass the run's overrides so that its problems can be rebuilt); ``reask`` labels outcomes by re-asking the run's
answerer instead (``distill.review.reask``), priced at Claude's rates.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from distill.core.errors import OneLineParser, UsageError, add_debug_flag, fraction, one_line_errors, positive_int
from distill.core.records import read_records, write_json
from distill.review.queue import QueueItem
from distill.review.store import STORE_FILE, LabelStore, store_file
from distill.review.strategies import STRATEGIES, review_queue

COMMANDS = ("export", "stats", "simulate", "reask")
# a reviewer's seconds per record where no timing of real use exists: reading a problem of 3 to 6 facts and 2 to
# 5 sub-questions and marking each (an assumption, stated in docs/review.md)
SECONDS_PER_RECORD = 30.0
HOURLY_USD = 30.0  # a reviewer's cost per hour (an assumption, stated in docs/review.md)


def open_run(path: str) -> tuple[Path, list, LabelStore]:
    from distill.review.app import records_file

    records_path = records_file(path)
    return records_path, read_records(records_path), LabelStore(store_file(records_path))


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from distill.review.app import ReviewApp, build_app, is_loopback, served_hosts

    records_path, records, store = open_run(args.run)
    token = args.token
    if not is_loopback(args.host) and not token:
        token = secrets.token_urlsafe(16)  # never open to a network without one
    state = ReviewApp(
        records,
        ordered(records, args)[0],
        store,
        args.reviewer,
        token,
        served_hosts(args.host, args.allow_host),
    )
    url = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"reviewing {len(records)} records of {records_path} as {args.reviewer}; labels in {store.path}\nopen {url}")
    uvicorn.run(build_app(state), host=args.host, port=args.port, log_level="warning")


def export(args: argparse.Namespace) -> None:
    records_path, _, store = open_run(args.run)
    out = Path(args.out or records_path.parent / "review_labels.jsonl")
    with out.open("w") as fh:
        for (key, reviewer), label in sorted(store.labels().items()):
            problem_id, sample = key.rsplit("/", 1)
            fh.write(
                json.dumps(
                    {
                        "record_key": key,
                        "problem_id": problem_id,
                        "sample_index": int(sample.split("#")[0]),
                        "reviewer": reviewer,
                        **label,
                        "useful": [label["useful"].get(i) for i in range(max(label["useful"], default=-1) + 1)],
                    }
                )
                + "\n"
            )
    print(f"labels of {len({k for k, _ in store.labels()})} records written to {out}")


def stats(args: argparse.Namespace) -> None:
    from distill.review.agreement import review_stats

    records_path, records, store = open_run(args.run)
    result = review_stats(records, store)
    out = store.path.with_name(store.path.name.replace(STORE_FILE, "review_stats.json"))  # one per records file
    write_json(out, result)
    r = result["random_stratum"]
    fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    print(
        f"reviewers {', '.join(result['reviewers']) or 'none'}: {result['records_reviewed']} records reviewed, "
        f"{result['records_rejected']} rejected, {result['records_edited']} edited"
    )
    print(
        f"AI judge against people on {result['subquestions_labelled']} sub-questions: kappa {fmt(result['kappa'])}; "
        f"judge's 'not useful': precision {fmt(result['judge_not_useful_precision'])}, "
        f"recall {fmt(result['judge_not_useful_recall'])}"
    )
    for name, count in result["confusion"].items():
        print(f"  {name:28s} {count}")
    between = result["between_reviewers"]
    for pair, row in between["pairs"].items():
        print(
            f"{pair}: kappa on usefulness {fmt(row['useful']['kappa'])} (n {row['useful']['n']}), "
            f"on decisions {fmt(row['decision']['kappa'])} (n {row['decision']['n']})"
        )
    print(
        f"Krippendorff's alpha over reviewers: usefulness {fmt(between['alpha']['useful'])}, "
        f"decisions {fmt(between['alpha']['decision'])}"
    )
    ci = r["wrong_or_useless_ci95"]
    print(
        f"random stratum ({r['n']} records): wrong or useless {fmt(r['wrong_or_useless_share'])}"
        + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    )
    timed = {name: round(t, 1) for name, t in result["seconds_per_record"].items() if t is not None}
    if timed:
        print(f"seconds per record (median between decisions, pauses over 10 minutes left out): {timed}")
    print(f"labels of {records_path} ({store.path}); written to {out}")


def run_parts(overrides: list[str]) -> tuple[dict, object]:
    """The training problems (by id) and the answerer of the run the overrides describe."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    return {p.problem_id: p for p in instantiate(cfg.dataset).load("train")}, instantiate(cfg.answerer)


def ordered(
    records: list, args: argparse.Namespace, parts: tuple[dict, object] | None = None
) -> tuple[list[QueueItem], int, float]:
    """The queue in ``--strategy``'s order; the answerer calls the order took (``unstable``'s re-asks, said) and
    their price had Claude answered them (``distill.review.reask``). ``parts``: the run's problems and answerer,
    where the caller has them."""
    if args.strategy == "unstable":
        problems, answerer = parts or run_parts(args.overrides)
    else:
        problems, answerer = None, None
    items, calls = review_queue(
        records, args.strategy, random_share=args.random_share, seed=args.seed, problems=problems,
        answerer=answerer, reasks=args.reasks,
    )  # fmt: skip
    usd = 0.0
    if calls:
        from distill.review.reask import call_usd, claude_prices

        model, prices = claude_prices()
        usd = args.reasks * sum(call_usd(r, prices) for r in records)
        print(f"strategy {args.strategy}: {calls} answerer calls ({args.reasks} re-asks of each record), ${usd:.4f} "
              f"had {model} answered them")  # fmt: skip
    return items, calls, usd


def to_label(args: argparse.Namespace) -> tuple[list, LabelStore, dict, Any, list[QueueItem], int, float]:
    """What ``simulate`` and ``reask`` label: the run's records and store, its problems and answerer, the first
    ``--n`` records of the strategy's queue, and the answerer calls and dollars the order took."""
    records_path, records, store = open_run(args.run)
    if args.n > len(records):
        raise UsageError(f"--n {args.n}: {records_path} has {len(records)} records")
    problems, answerer = run_parts(args.overrides)
    items, calls, usd = ordered(records, args, (problems, answerer))
    return records, store, problems, answerer, items[: args.n], calls, usd


def simulate(args: argparse.Namespace) -> None:
    from distill.review.oracle import simulate_review

    records, store, problems, answerer, items, calls, usd = to_label(args)
    k = getattr(answerer, "k", 1)  # the oracle's faithful answerer is as strong as the run's
    n = simulate_review(store, records, items, problems, args.reviewer, args.noise, args.seed, k)
    hours = n * args.seconds_per_record / 3600
    cost = {"labelled": n, "reviewer_hours": hours, "reviewer_usd": hours * args.hourly_usd, "answerer_calls": calls,
            "llm_usd": usd}  # fmt: skip
    write_summary(args, cost)
    print(
        f"{args.reviewer} labelled {n} records ({args.strategy} order, noise {args.noise}) into {store.path}: "
        f"{hours:.2f} reviewer hours at {args.seconds_per_record:g} s a record, ${hours * args.hourly_usd:.2f} at "
        f"${args.hourly_usd:g} an hour"
    )


def write_summary(args: argparse.Namespace, cost: dict) -> None:
    """``--summary``: what the labelling did and cost, as JSON (the label-budget study reads it)."""
    if args.summary:
        write_json(Path(args.summary), {"strategy": args.strategy, **cost})


def reask(args: argparse.Namespace) -> None:
    from distill.review.reask import call_usd, claude_prices, reask_review

    records, store, problems, answerer, items, order_calls, order_usd = to_label(args)
    calls = reask_review(store, records, items, problems, answerer, args.reasks)
    model, prices = claude_prices()
    usd = args.reasks * sum(call_usd(records[item.index], prices) for item in items)
    write_summary(args, {"labelled": len(items), "reviewer_hours": 0.0, "reviewer_usd": 0.0,
                         "answerer_calls": order_calls + calls, "llm_usd": order_usd + usd})  # fmt: skip
    print(
        f"ask-{args.reasks} labelled {len(items)} records ({args.strategy} order) into {store.path}: {calls} "
        f"answerer calls, ${usd:.4f} had {model} answered them"
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "serve"
    parser = OneLineParser(
        prog=f"python -m distill.review{'' if command == 'serve' else ' ' + command}",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("run", help="a run folder (teacher_records.jsonl) or a records file")
    parser.add_argument(
        "--random-share", type=fraction, default=0.2, help="share of the queue drawn uniformly, in [0, 1] (default 0.2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the queue's random order and stratum")
    if command in ("serve", "simulate", "reask"):
        parser.add_argument(
            "--strategy", choices=STRATEGIES, default="strata", help="the queue's order (distill.review.strategies)"
        )
        parser.add_argument("--reasks", type=positive_int, default=4, help="unstable: re-asks of each record")
        parser.add_argument("overrides", nargs="*", help="config overrides that rebuild the run (world=, seed=, ...)")
    if command == "serve":
        parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; others need a token)")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--reviewer", default=getpass.getuser(), help="your name on the labels")
        parser.add_argument("--token", default=None, help="access token (generated when binding beyond loopback)")
        parser.add_argument(
            "--allow-host",
            action="append",
            default=[],
            metavar="NAME",
            help="another Host header value to answer (a proxy's or DNS alias); repeatable",
        )
    elif command == "export":
        parser.add_argument("--out", default=None, help="JSONL file (default review_labels.jsonl beside the records)")
    if command in ("simulate", "reask"):
        parser.add_argument("--n", type=positive_int, required=True, help="records to label")
        parser.add_argument("--summary", default=None, help="a JSON file for what the labels cost")
    if command == "simulate":
        parser.add_argument("--noise", type=fraction, default=0.0, help="probability that a label flips, in [0, 1]")
        parser.add_argument("--reviewer", default="oracle")
        parser.add_argument(
            "--seconds-per-record",
            type=float,
            default=SECONDS_PER_RECORD,
            help=f"a reviewer's time per record, for the hours it cost (default {SECONDS_PER_RECORD:g}, assumed)",
        )
        parser.add_argument(
            "--hourly-usd", type=float, default=HOURLY_USD, help=f"a reviewer's cost per hour (default {HOURLY_USD:g})"
        )
    add_debug_flag(parser)
    args = parser.parse_intermixed_args(argv)  # config overrides after the options, as the docstring shows
    with one_line_errors(args.debug):
        {"serve": serve, "export": export, "stats": stats, "simulate": simulate, "reask": reask}[command](args)


if __name__ == "__main__":
    main()
