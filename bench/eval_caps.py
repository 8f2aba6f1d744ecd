#!/usr/bin/env python3
"""Table of bench/eval_caps.sh: each grid run with its evaluation caps and with every split whole,
time per configuration split into training and evaluation, and the final metrics compared trial
by trial (same keys in both runs). Python stdlib only. Exit status 1 when a final metric differs."""

import argparse
import os
import sqlite3
import sys

FINAL = ["final_val_acc", "final_test_acc", "final_val_loss", "source_acc_final"]


def rows(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    return {
        r["key"]: r
        for r in con.execute(
            "SELECT key, status, pretrained, freeze, train_per_class, shift, train_seconds, "
            "eval_seconds, " + ", ".join(FINAL) + " FROM trial_summary")
    }


def config(r):
    mode = f"freeze {r['freeze']}" if r["pretrained"] else "scratch"
    return f"{mode}, n={r['train_per_class']}, {r['shift']}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("grids", nargs="+")
    args = ap.parse_args()
    failed = False
    for name in args.grids:
        capped, full = (rows(os.path.join(args.out, f"{name}-{l}.sqlite")) for l in ("capped", "full"))
        wall = {l: float(open(os.path.join(args.out, f"{name}-{l}.wall")).read()) for l in ("capped", "full")}
        print()
        print(f"{name}: {len(capped)} trials; process wall time {wall['full']:.1f} s with every split "
              f"whole, {wall['capped']:.1f} s with the caps ({wall['full'] / wall['capped']:.2f}x faster)")
        groups = {}
        for key, c in capped.items():
            f = full.get(key)
            if f is None:
                print(f"  trial {key}: missing from the uncapped run")
                failed = True
                continue
            g = groups.setdefault(config(c), [0.0] * 4)
            g[0] += f["train_seconds"] - f["eval_seconds"]
            g[1] += f["eval_seconds"]
            g[2] += c["train_seconds"] - c["eval_seconds"]
            g[3] += c["eval_seconds"]
            for m in FINAL:
                a, b = c[m], f[m]
                if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-6):
                    print(f"  trial {key} ({config(c)}): {m} {a} with caps, {b} without")
                    failed = True
        header = ["configuration", "full: train s", "eval s", "caps: train s", "eval s", "eval saved", "epochs total"]
        table = [header]
        for cfg, (ft, fe, ct, ce) in sorted(groups.items()):
            table.append([cfg, f"{ft:.1f}", f"{fe:.1f}", f"{ct:.1f}", f"{ce:.1f}",
                          f"{fe / ce:.1f}x" if ce > 0 else "-", f"{(ft + fe) / max(ct + ce, 1e-9):.2f}x"])
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for r in table:
            print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        print(f"  final metrics ({', '.join(FINAL)}): "
              f"{'identical in every trial' if not failed else 'DIFFER (above)'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
