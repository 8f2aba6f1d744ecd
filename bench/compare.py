#!/usr/bin/env python3
"""Side-by-side table of `make bench`: thaw (from its database) against bench/reference.py (from
its JSON), per trial and in total, with the accuracy-agreement check. Python stdlib only.

Times:
  train s   sum of the per-epoch times (thaw's `epoch_seconds`; the reference times the same
            span: reseed, training steps, then val/test[/source] evaluation)
  img/s     training images x epochs / train s
  trial s   one trial end to end (thaw: finished_at - started_at, which includes pretraining
            the source checkpoint in the first trial that needs it; reference: data, model,
            checkpoint load, epoch-0 evaluation and the epochs)
  process   the whole command, measured by bench/run.sh (thaw's includes pretraining the source
            checkpoints, which the reference loads instead, and report rendering)
  ratio     reference / thaw: above 1 means thaw is faster.

Accuracy agreement: trials are grouped by configuration (backbone, pretrained, frozen blocks,
examples per class, precision); seeds are paired: the same seed trains on the same examples in
the same batches on both sides (the reference replays thaw's split order and per-epoch seeds),
so the two differ only by floating-point summation order. A group passes when the mean paired
difference |mean(thaw - reference test acc)| <= max(2 * SE, FLOOR), with SE the standard error of
the paired differences over the n seeds and FLOOR = 0.02 (rounding can flip a few test
predictions, and on a GPU cuDNN's choice of algorithm can too).

The time split table gives, per configuration, thaw's epoch time spent training and spent
evaluating (validation, test and source-test splits; `eval_seconds`).

With --db-no-reuse (the same grid run with `thaw run --no-feature-reuse`), a table of what reusing
frozen blocks' outputs saves per configuration: thaw's train s without / with reuse. When the grid
has bf16 trials, a table of bf16 against fp32 per configuration, for thaw and the reference:
mean test accuracy (the same |delta| <= max(2 SE, FLOOR) check) and the train-time ratio.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sqlite3
import statistics

FLOOR = 0.02


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def thaw_trials(db, sweep):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    rows = con.execute(
        """SELECT t.key, t.position, t.backbone, t.pretrained, t.frozen_blocks, t.train_per_class,
                  t.precision, t.seed, t.epochs, t.status, t.device, t.started_at, t.finished_at,
                  s.final_test_acc, s.final_val_acc, s.source_acc_final, s.train_seconds, s.eval_seconds,
                  (SELECT COUNT(*) FROM split_files f WHERE f.split_key = t.split_key AND f.split = 'train') AS n_train
           FROM trials t JOIN trial_summary s ON s.trial_id = t.id JOIN sweeps w ON w.id = t.sweep_id
           WHERE w.name = ? ORDER BY t.position""",
        (sweep,),
    ).fetchall()
    pre = con.execute("SELECT COALESCE(SUM(seconds), 0), COUNT(*) FROM pretrained").fetchone()
    return rows, pre


def seconds_between(a, b):
    if not a or not b:
        return float("nan")
    parse = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (parse(b) - parse(a)).total_seconds()


def mode(r):
    return f"ft freeze={r['frozen_blocks']}" if r["pretrained"] else "scratch"


def fmt(x, spec=".2f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def ratio(a, b):
    return a / b if b and b > 0 else float("nan")


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--sweep", default="bench")
    ap.add_argument("--ref", required=True, help="reference.py's JSON")
    ap.add_argument("--thaw-process", type=float, default=float("nan"), help="thaw run wall seconds")
    ap.add_argument("--ref-process", type=float, default=float("nan"), help="reference.py wall seconds")
    ap.add_argument("--json", help="also write the comparison here")
    ap.add_argument("--db-no-reuse", help="the same grid run with thaw run --no-feature-reuse")
    args = ap.parse_args()

    rows, (pretrain_s, pretrain_n) = thaw_trials(args.db, args.sweep)
    with open(args.ref) as f:
        ref = json.load(f)
    by_key = {r["key"]: r for r in ref["trials"]}

    trials = []
    for r in rows:
        p = by_key.get(r["key"])
        if r["status"] != "completed" or p is None:
            print(f"warning: trial {r['key']} ({r['backbone']} {mode(r)} seed {r['seed']}) has thaw status {r['status']} and {'a' if p else 'no'} reference result; left out")
            continue
        n_img = r["n_train"] * r["epochs"]
        t_train = r["train_seconds"]
        p_train = sum(p["epoch_seconds"])
        trials.append(
            {
                "key": r["key"],
                "backbone": r["backbone"],
                "mode": mode(r),
                "group": (r["backbone"], mode(r), r["train_per_class"], r["precision"]),
                "per_class": r["train_per_class"],
                "precision": r["precision"],
                "seed": r["seed"],
                "n_train": r["n_train"],
                "epochs": r["epochs"],
                "thaw_train_s": t_train,
                "thaw_eval_s": r["eval_seconds"] or 0.0,
                "ref_train_s": p_train,
                "thaw_img_s": n_img / t_train if t_train else float("nan"),
                "ref_img_s": n_img / p_train if p_train else float("nan"),
                "thaw_trial_s": seconds_between(r["started_at"], r["finished_at"]),
                "ref_trial_s": p["wall_seconds"],
                "thaw_test_acc": r["final_test_acc"],
                "ref_test_acc": p["final"].get("test_acc", float("nan")),
                "thaw_source_acc": r["source_acc_final"],
                "ref_source_acc": p["final"].get("source_acc"),
            }
        )
    if not trials:
        raise SystemExit("compare.py: no trial finished on both sides")

    device = rows[0]["device"] or "?"
    print()
    print(f"thaw vs plain PyTorch (bench/reference.py), sweep {args.sweep}: {len(trials)} trials")
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs; thaw device {device}; reference device {ref['device']}"
          + (f" ({ref['cuda_device']})" if ref.get("cuda_device") else "") + f", {ref['threads']} torch threads, torch {ref['torch']}")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    print()
    print("Per trial (ratio = reference / thaw; above 1 = thaw faster):")
    print(
        table(
            ["backbone", "mode", "n", "seed", "thaw train s", "ref train s", "ratio", "thaw img/s", "ref img/s", "thaw trial s", "ref trial s", "ratio", "thaw test", "ref test", "delta"],
            [
                [
                    t["backbone"], t["mode"], t["n_train"], t["seed"],
                    fmt(t["thaw_train_s"]), fmt(t["ref_train_s"]), fmt(ratio(t["ref_train_s"], t["thaw_train_s"])),
                    fmt(t["thaw_img_s"], ".0f"), fmt(t["ref_img_s"], ".0f"),
                    fmt(t["thaw_trial_s"]), fmt(t["ref_trial_s"]), fmt(ratio(t["ref_trial_s"], t["thaw_trial_s"])),
                    fmt(t["thaw_test_acc"], ".3f"), fmt(t["ref_test_acc"], ".3f"), fmt(t["thaw_test_acc"] - t["ref_test_acc"], "+.3f"),
                ]
                for t in trials
            ],
        )
    )

    # Per configuration: time and the accuracy check.
    groups = {}
    for t in trials:
        groups.setdefault(t["group"], []).append(t)
    print()
    print(f"Per configuration, over seeds (accuracy PASS when |mean delta| <= max(2 SE, {FLOOR})):")
    grows, all_pass, gout = [], True, []
    for (backbone, m, per_class, precision), ts in groups.items():
        n = len(ts)
        ta = [t["thaw_test_acc"] for t in ts]
        pa = [t["ref_test_acc"] for t in ts]
        mt, mp = statistics.fmean(ta), statistics.fmean(pa)
        diffs = [a - b for a, b in zip(ta, pa)]
        se = statistics.stdev(diffs) / math.sqrt(n) if n > 1 else float("nan")
        tol = max(2 * se, FLOOR) if n > 1 else FLOOR
        ok = abs(mt - mp) <= tol
        all_pass &= ok
        tt = sum(t["thaw_train_s"] for t in ts)
        pt = sum(t["ref_train_s"] for t in ts)
        grows.append([backbone, m, per_class, precision, n, fmt(tt), fmt(pt), fmt(ratio(pt, tt)), fmt(mt, ".3f"), fmt(mp, ".3f"), fmt(mt - mp, "+.3f"), fmt(tol, ".3f"), "PASS" if ok else "FAIL"])
        gout.append({"backbone": backbone, "mode": m, "per_class": per_class, "precision": precision, "seeds": n, "thaw_train_s": tt, "ref_train_s": pt, "thaw_test_acc": mt, "ref_test_acc": mp, "tolerance": tol, "pass": ok})
    print(table(["backbone", "mode", "per class", "precision", "seeds", "thaw train s", "ref train s", "ratio", "thaw test", "ref test", "delta", "tol", "accuracy"], grows))

    tt = sum(t["thaw_train_s"] for t in trials)
    pt = sum(t["ref_train_s"] for t in trials)
    tw = sum(t["thaw_trial_s"] for t in trials)
    pw = sum(t["ref_trial_s"] for t in trials)
    imgs = sum(t["n_train"] * t["epochs"] for t in trials)
    print()
    print("Total:")
    print(
        table(
            ["", "thaw", "reference", "ratio"],
            [
                ["training + evaluation s (sum of epochs)", fmt(tt), fmt(pt), fmt(ratio(pt, tt))],
                ["training images/s", fmt(imgs / tt, ".0f"), fmt(imgs / pt, ".0f"), fmt(ratio(imgs / tt, imgs / pt))],
                ["trials end to end s", fmt(tw), fmt(pw), fmt(ratio(pw, tw))],
                ["trials end to end s without pretraining", fmt(tw - pretrain_s), fmt(pw), fmt(ratio(pw, tw - pretrain_s))],
                ["process wall s", fmt(args.thaw_process), fmt(args.ref_process), fmt(ratio(args.ref_process, args.thaw_process))],
                [f"  of which pretraining ({pretrain_n} checkpoints, thaw only)", fmt(pretrain_s), "-", "-"],
                ["process wall s without pretraining", fmt(args.thaw_process - pretrain_s), fmt(args.ref_process), fmt(ratio(args.ref_process, args.thaw_process - pretrain_s))],
                ["sweep throughput (trials/hour, process wall)", fmt(3600 * len(trials) / args.thaw_process, ".0f"),
                 fmt(3600 * len(trials) / args.ref_process, ".0f"), fmt(ratio(args.ref_process, args.thaw_process))],
            ],
        )
    )
    split_table(groups)
    reuse = reuse_table(trials, args.db_no_reuse, args.sweep) if args.db_no_reuse else []
    precision = precision_table(trials)
    print()
    print(f"accuracy agreement: {'PASS' if all_pass else 'FAIL'} ({sum(g['pass'] for g in gout)}/{len(gout)} configurations within tolerance)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trials": [{k: v for k, v in t.items() if k != "group"} for t in trials], "groups": gout, "pass": all_pass,
                       "reuse": reuse, "precision": precision,
                       "thaw_process_s": args.thaw_process, "ref_process_s": args.ref_process, "pretrain_s": pretrain_s}, f, indent=1)
    return 0 if all_pass else 1


def split_table(groups):
    """Prints thaw's epoch time per configuration split into training and evaluation (the
    `eval_seconds` of every epoch: validation, test and source-test splits)."""
    rows = []
    for (backbone, m, per_class, precision), ts in groups.items():
        total = sum(t["thaw_train_s"] for t in ts)
        ev = sum(t["thaw_eval_s"] for t in ts)
        rows.append([backbone, m, per_class, precision, len(ts), fmt(total - ev), fmt(ev), fmt(100 * ev / total if total else float("nan"), ".0f") + " %"])
    print()
    print("Time split (thaw, sum over seeds of every epoch): training against evaluation:")
    print(table(["backbone", "mode", "per class", "precision", "seeds", "training s", "evaluation s", "evaluation share"], rows))


def reuse_table(trials, db_no_reuse, sweep):
    """Prints and returns thaw's train time per configuration with and without frozen-feature
    reuse (pretrained trials with frozen blocks only: nothing else can reuse)."""
    con = sqlite3.connect(f"file:{db_no_reuse}?mode=ro", uri=True)
    plain = dict(con.execute(
        "SELECT key, train_seconds FROM trial_summary WHERE sweep = ? AND status = 'completed'", (sweep,)))
    groups = {}
    for t in trials:
        if t["mode"].startswith("ft") and t["key"] in plain and not t["mode"].endswith("=0"):
            groups.setdefault(t["group"], []).append((t["thaw_train_s"], plain[t["key"]]))
    rows, out = [], []
    for (backbone, m, per_class, precision), pairs in groups.items():
        with_s = sum(a for a, _ in pairs)
        without_s = sum(b for _, b in pairs)
        rows.append([backbone, m, precision, len(pairs), fmt(without_s), fmt(with_s), fmt(ratio(without_s, with_s))])
        out.append({"backbone": backbone, "mode": m, "precision": precision, "trials": len(pairs),
                    "without_reuse_s": without_s, "with_reuse_s": with_s})
    print()
    print("Frozen-feature reuse (thaw train s, recomputing frozen blocks every epoch / reusing their outputs):")
    print(table(["backbone", "mode", "precision", "trials", "without reuse s", "with reuse s", "saving"], rows))
    return out


def precision_table(trials):
    """Prints and returns bf16 against fp32 per configuration, for thaw and the reference."""
    by = {}
    for t in trials:
        by.setdefault((t["backbone"], t["mode"], t["per_class"]), {}).setdefault(t["precision"], []).append(t)
    rows, out = [], []
    for (backbone, m, per_class), p in by.items():
        if "fp32" not in p or "bf16" not in p:
            continue
        for side in ("thaw", "ref"):
            a32 = [t[f"{side}_test_acc"] for t in p["fp32"]]
            a16 = [t[f"{side}_test_acc"] for t in p["bf16"]]
            s32 = sum(t[f"{side}_train_s"] for t in p["fp32"])
            s16 = sum(t[f"{side}_train_s"] for t in p["bf16"])
            n = min(len(a32), len(a16))
            se = math.sqrt((statistics.variance(a32) + statistics.variance(a16)) / n) if n > 1 else float("nan")
            tol = max(2 * se, FLOOR) if n > 1 else FLOOR
            delta = statistics.fmean(a16) - statistics.fmean(a32)
            ok = abs(delta) <= tol
            rows.append([backbone, m, "thaw" if side == "thaw" else "reference", fmt(statistics.fmean(a32), ".3f"), fmt(statistics.fmean(a16), ".3f"),
                         fmt(delta, "+.3f"), fmt(tol, ".3f"), "PASS" if ok else "FAIL", fmt(s32), fmt(s16), fmt(ratio(s32, s16))])
            out.append({"backbone": backbone, "mode": m, "side": side, "fp32_test_acc": statistics.fmean(a32),
                        "bf16_test_acc": statistics.fmean(a16), "tolerance": tol, "pass": ok, "fp32_train_s": s32, "bf16_train_s": s16})
    if rows:
        print()
        print("bf16 against fp32 (mean test accuracy over seeds; speed-up = fp32 train s / bf16 train s):")
        print(table(["backbone", "mode", "side", "fp32 test", "bf16 test", "delta", "tol", "accuracy", "fp32 s", "bf16 s", "speed-up"], rows))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
