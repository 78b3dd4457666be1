"""A separate process that logs through the real client; driven by the durability and
concurrency tests. Settings arrive in LOOPML_* environment variables, as for any user."""

from __future__ import annotations

import argparse
import sys
import time

import loopml
from loopml.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["log", "exit-without-end", "sigterm", "crash", "migrate"])
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--shared-run", default="")
    parser.add_argument("--db-url", default="")
    args = parser.parse_args()

    if args.mode == "migrate":
        open_store(args.db_url)
        return
    if args.mode == "log":
        loopml.set_experiment("concurrency")
        with loopml.start_run(run_name=f"worker-{args.index}") as run:
            loopml.log_params({f"p{k}": f"{args.index}-{k}" for k in range(20)})
            for step in range(args.points):
                loopml.log_metric("m", float(step), step=step)
                if args.shared_run:
                    loopml.log_metric(
                        f"w{args.index}", float(step), step=step, run_id=args.shared_run
                    )
            if args.shared_run:
                loopml.log_param(f"worker{args.index}", args.index, run_id=args.shared_run)
        print(run.run_id, flush=True)
        return
    run = loopml.start_run(experiment="durability")
    print(run.run_id, flush=True)
    if args.mode == "exit-without-end":
        for step in range(args.points):
            loopml.log_metric("m", float(step), step=step)
        return  # no flush, no end_run: interpreter exit must make it durable
    if args.mode == "crash":
        for step in range(args.points):
            loopml.log_metric("m", float(step), step=step)
        raise RuntimeError("training crashed")
    # sigterm: log forever; after the first `points` points say so, and keep going.
    step = 0
    while True:
        loopml.log_metric("m", float(step), step=step)
        step += 1
        if step == args.points:
            print("ready", flush=True)
        if step % 1000 == 0:
            time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
