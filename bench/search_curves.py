#!/usr/bin/env python3
"""Best-so-far curves of `make bench`'s search benchmark (bench/search.sh). Python stdlib only.

For each sweep (the full grid, and each search method over the same space), trials are taken in
the order they finished. After each, the best configuration so far is the one with the highest
mean final validation accuracy over its completed seeds (pruned trials are never chosen: their
last epoch is not a final one); the curve is that configuration's mean final *test* accuracy
against the trial-epochs spent so far (every epoch trained by every trial, pruned ones included).
Choosing on validation and reporting test keeps the reported number an estimate, not a pick.

The check: a method passes when its final best test accuracy is within one standard error of
the grid's best (the grid's configuration chosen the same way; SE over its seeds) and it spent no
more than a third of the grid's trial-epochs.
"""

import argparse
import csv
import json
import math
import os
import sqlite3
import statistics

from compare import cpu_model

FRACTIONS = [0.05, 0.1, 0.2, 1 / 3, 0.5, 1.0]


def trials(con, sweep):
    """Finished trials of `sweep` in finishing order: (config, label, status, epochs run, val, test)."""
    rows = con.execute(
        """SELECT t.config_json, t.freeze, t.schedule, t.status,
                  (SELECT COUNT(*) FROM metrics m WHERE m.trial_id = t.id AND m.name = 'train_loss'
                     AND m.epoch > 0) AS epochs_run,
                  s.final_val_acc, s.final_test_acc
           FROM trials t JOIN trial_summary s ON s.trial_id = t.id JOIN sweeps w ON w.id = t.sweep_id
           WHERE w.name = ? AND t.superseded_in IS NULL AND t.finished_at IS NOT NULL
           ORDER BY t.finished_at, t.id""",
        (sweep,),
    ).fetchall()
    if not rows:
        raise SystemExit(f"search_curves: no finished trials in sweep {sweep}")
    out = []
    for config_json, freeze, schedule, status, epochs_run, val, test in rows:
        config = json.loads(config_json)
        config.pop("seed", None)
        out.append((json.dumps(config, sort_keys=True), f"freeze {freeze}, {schedule}", status, epochs_run, val, test))
    return out


def best(done):
    """The configuration with the highest mean validation accuracy: (label, test mean, test SE, n)."""
    top = None
    for label, runs in done.values():
        val = statistics.fmean(r[0] for r in runs)
        tests = [r[1] for r in runs]
        se = statistics.stdev(tests) / math.sqrt(len(tests)) if len(tests) > 1 else float("nan")
        cand = (val, len(tests), label, statistics.fmean(tests), se)
        if top is None or cand[:2] > top[:2]:
            top = cand
    return None if top is None else top[2:] + (top[1],)


def curve(rows):
    """[(trial-epochs so far, best label, test mean, SE, n)] after each finished trial."""
    done, spent, points = {}, 0, []
    for config, label, status, epochs_run, val, test in rows:
        spent += epochs_run
        if status == "completed" and val is not None and test is not None:
            done.setdefault(config, (label, []))[1].append((val, test))
        b = best(done)
        if b:
            points.append((spent,) + b)
    return points


def at(points, budget):
    """The best-so-far point at `budget` trial-epochs (the last one spent within it)."""
    within = [p for p in points if p[0] <= budget + 1e-9]
    return within[-1] if within else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--grid", required=True, help="the full grid's sweep")
    ap.add_argument("--method", action="append", default=[], help="NAME=SWEEP of a search method")
    ap.add_argument("--csv", help="write every curve point here")
    args = ap.parse_args()
    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    methods = [("grid", args.grid)] + [tuple(m.split("=", 1)) for m in args.method]
    curves = {name: curve(trials(con, sweep)) for name, sweep in methods}
    statuses = {
        name: dict(con.execute(
            "SELECT t.status, COUNT(*) FROM trials t JOIN sweeps w ON w.id = t.sweep_id "
            "WHERE w.name = ? AND t.superseded_in IS NULL GROUP BY 1", (sweep,)).fetchall())
        for name, sweep in methods
    }
    grid_total = curves["grid"][-1][0]
    g_label, g_test, g_se, g_n = curves["grid"][-1][1:]
    print()
    print(f"Search methods over one space ({cpu_model()}, {os.cpu_count()} logical CPUs)")
    print(f"grid: {grid_total} trial-epochs; best by validation: {g_label}: test {g_test:.4f} "
          f"(SE {g_se:.4f}, n = {g_n} seeds)")
    print()
    print("Best-so-far test accuracy (configuration chosen on validation) against trial-epochs, "
          "as fractions of the grid's:")
    header = ["method"] + [f"{f:.2f} ({round(f * grid_total)})" for f in FRACTIONS]
    rows = []
    for name, points in curves.items():
        cells = [name]
        for f in FRACTIONS:
            p = at(points, f * grid_total)
            cells.append("-" if p is None else f"{p[2]:.4f}")
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    print()
    ok_all = True
    for name, points in curves.items():
        if name == "grid":
            continue
        spent, label, test, se, n = points[-1]
        share = spent / grid_total
        within = test >= g_test - g_se
        ok = within and share <= 1 / 3 + 1e-9
        ok_all &= ok
        counts = ", ".join(f"{k} {v}" for k, v in sorted(statuses[name].items()))
        print(f"{name}: {spent} trial-epochs ({share:.1%} of the grid's; trials: {counts}); best by "
              f"validation: {label}: test {test:.4f} (n = {n}); grid best - 1 SE = {g_test - g_se:.4f}: "
              f"{'within' if within else 'NOT within'} one SE -> {'PASS' if ok else 'FAIL'}")
    print(f"search check: {'PASS' if ok_all else 'FAIL'}")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["method", "trial_epochs", "best_config", "test_mean", "test_se", "n"])
            for name, points in curves.items():
                for p in points:
                    w.writerow((name,) + p)


if __name__ == "__main__":
    main()
