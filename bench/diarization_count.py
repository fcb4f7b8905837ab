"""The speaker-count study of `bench/diarization_cv.py --count`: every rule of bench/diarization_count_rules.py
cross-validated on the dev set's folds (group-balanced frame DER, the count error breaking ties), chosen on the
whole set, scored on an unseen set, and the shipped diarizer checked with pyannote.metrics."""

import dataclasses
import time
from collections import defaultdict

import numpy as np

from bench.diarization_count_rules import CountFeatures, apply_rule, count_configs, count_features
from bench.diarization_eval import Evaluator, Item, assign_folds, describe, pooled, scores, table
from services.asr.diarization.embedded import EmbeddedParams

Config = tuple[str, dict]


def count_objective(feats: list[CountFeatures], results: dict, names: set[str]) -> tuple[float, float]:
    """(group-balanced pooled DER, mean count error) over `names`: DER first, the count breaks ties."""
    groups = defaultdict(list)
    for f in feats:
        if f.name in names:
            groups[f.group].append(f.name)
    der = float(np.mean([pooled(results, members) for members in groups.values()]))
    err = float(np.mean([abs(results[f.name][2] - f.speakers) for f in feats if f.name in names]))
    return round(der, 4), err


def choose_config(feats, table_of, configs, names) -> tuple[str, dict]:
    return min(configs, key=lambda c: count_objective(feats, table_of[repr(c)], names))


def count_row(label: str, feats: list[CountFeatures], results: dict) -> str:
    """One markdown row: per group, pooled DER / count exact / mean count error; then the balanced DER."""
    groups = sorted({f.group for f in feats})
    cells = []
    for group in [*groups, "sim 2-4"]:
        members = [f for f in feats if (f.group in ("2", "3", "4") if group == "sim 2-4" else f.group == group)]
        der = pooled(results, [f.name for f in members])
        exact = np.mean([results[f.name][2] == f.speakers for f in members])
        err = np.mean([abs(results[f.name][2] - f.speakers) for f in members])
        cells.append(f"{der:.3f} / {exact:.0%} / {err:.2f}")
    balanced_der = np.mean([pooled(results, [f.name for f in feats if f.group == g]) for g in groups])
    return f"| {label} | " + " | ".join(cells) + f" | {balanced_der:.3f} |"


def count_header(feats: list[CountFeatures]) -> str:
    groups = [f"{g} spk" if g != "real" else g for g in sorted({f.group for f in feats})]
    columns = [*groups, "sim 2-4"]
    return (
        "| rule | "
        + " | ".join(columns)
        + " | balanced DER |\n|---|"
        + "---|" * (len(columns) + 1)
        + "\n(cells: DER c0.25 no-ovl / count exact / count abs err)"
    )


def describe_config(config: tuple[str, dict]) -> str:
    family, kwargs = config
    return family + " " + " ".join(f"{k}={v}" for k, v in kwargs.items())


def family_members(pool: list[tuple[str, dict]], family: str) -> list[tuple[str, dict]]:
    """The configurations of one family; "silhouette to the cut + e" also holds e = 0 (the current rule)."""
    if family == "all rules":
        return pool
    current = [c for c in pool if c[0] == "silhouette"] if family == "silhouette to the cut + e" else []
    return current + [c for c in pool if c[0] == family]


def print_features(feats: list[CountFeatures]) -> None:
    for f in feats:
        sils = " ".join(f"{f.sil[4.0, k]:.3f}" for k in range(2, 6))
        dmins = " ".join(f"{f.dmin[4.0, k]:.2f}" for k in range(2, 6))
        ders_k = " ".join(f"{f.der[4.0, k][0] / f.der[4.0, k][1]:.2f}" for k in range(1, 6))
        print(f"  {f.name:28s} true {f.speakers} cut {f.found[0.3, 4.0]} | sil {sils} | dmin {dmins} | DER {ders_k}")


def print_changes(feats: list[CountFeatures], before: dict, after: dict, mark_changes: bool) -> None:
    """Per file: frame DER and found/true before → after; `mark_changes` stars a changed count."""
    for f in feats:
        b, a = before[f.name], after[f.name]
        mark = "  *" if mark_changes and b[2] != a[2] else ""
        print(f"  {f.name:28s} {b[0] / b[1]:.3f} {b[2]}/{f.speakers} → {a[0] / a[1]:.3f} {a[2]}/{f.speakers}{mark}")


def print_held_out(
    pool_name: str, pool: list[Config], feats: list[CountFeatures], table_of: dict, default: Config, fold_of: dict
) -> None:
    """Each family's choice on the other folds, scored on the held-out fold; then the choices per fold."""
    families = ["all rules", *dict.fromkeys(c[0] for c in pool)]
    print(f"\n## {pool_name}: held out (each fold scored with the choice made on the other folds), frame DER")
    print(count_header(feats))
    print(count_row("before: silhouette to the cut (no choice)", feats, table_of[repr(default)]))
    chosen_by_fold = {}
    for family in families:
        members = family_members(pool, family)
        held, chosen_by_fold[family] = {}, []
        for fold in sorted(set(fold_of.values())):
            train = {f.name for f in feats if fold_of[f.name] != fold}
            test = [f.name for f in feats if fold_of[f.name] == fold]
            best = choose_config(feats, table_of, members, train)
            chosen_by_fold[family].append(describe_config(best))
            held.update({n: table_of[repr(best)][n] for n in test})
        print(count_row(f"{family} (CV)", feats, held))
    for family in families:
        print(f"  {family}: " + " / ".join(chosen_by_fold[family]))


def chosen_in_set(pool_name: str, pool: list[Config], feats: list[CountFeatures], table_of: dict) -> dict:
    """family → its configuration chosen on the whole set, printed with its in-set row."""
    names = {f.name for f in feats}
    print(f"\n## {pool_name}: chosen on the whole set (in-set)")
    print(count_header(feats))
    chosen = {}
    for family in ["all rules", *dict.fromkeys(c[0] for c in pool)]:
        chosen[family] = best = choose_config(feats, table_of, family_members(pool, family), names)
        print(count_row(f"{family}: {describe_config(best)}", feats, table_of[repr(best)]))
    return chosen


def unseen_report(holdout: list[Item], default: Config, final: Config, finals: dict) -> Evaluator:
    """Every whole-set choice scored on the unseen set (used for no choice); returns its evaluator."""
    evaluator = Evaluator(holdout)
    feats = [count_features(evaluator, i, EmbeddedParams()) for i in range(len(holdout))]
    print("\n## unseen set (not used for any choice): each rule as chosen on the whole dev set, frame DER")
    print(count_header(feats))
    print(count_row(f"before: {describe_config(default)}", feats, apply_rule(default, feats)))
    for (pool_name, family), config in finals.items():
        label = f"{family} [{pool_name}]: {describe_config(config)}"
        print(count_row(label, feats, apply_rule(config, feats)))
    print("\nunseen, per file (as above)")
    print_features(feats)
    print(f"\nunseen, per conversation: before → {describe_config(final)}")
    print_changes(feats, apply_rule(default, feats), apply_rule(final, feats), mark_changes=False)
    return evaluator


def count_study(items: list[Item], holdout: list[Item], folds: int) -> None:
    started = time.perf_counter()
    evaluator = Evaluator(items)
    feats = [count_features(evaluator, i, EmbeddedParams()) for i in range(len(items))]
    print(f"features of {len(items)} files: {time.perf_counter() - started:.0f} s", flush=True)
    configs = count_configs()
    default = configs[0]
    table_of = {repr(c): apply_rule(c, feats) for c in configs}
    fold_of = assign_folds(items, folds)

    print("\nper file at the defaults: found at the cut 0.30 / silhouette per k (2..5) / dmin per k / DER per k")
    print_features(feats)
    pools = {
        "t 0.30, min cluster 4 s fixed": [c for c in configs if c[1]["t"] == 0.3 and c[1]["m"] == 4.0],
        "t and min cluster searched too": configs,
    }
    finals = {}
    for pool_name, pool in pools.items():
        print_held_out(pool_name, pool, feats, table_of, default, fold_of)
        chosen = chosen_in_set(pool_name, pool, feats, table_of)
        finals |= {(pool_name, family): config for family, config in chosen.items()}

    final = finals["t 0.30, min cluster 4 s fixed", "all rules"]
    print(f"\nper file, before → {describe_config(final)} (frame DER, found/true)")
    print_changes(feats, table_of[repr(default)], table_of[repr(final)], mark_changes=True)
    unseen = unseen_report(holdout, default, final, finals) if holdout else None
    verify(evaluator, "dev set")
    if unseen is not None:
        verify(unseen, "unseen set")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


def verify(evaluator: Evaluator, label: str) -> None:
    """The diarizer itself (turns_from_windows) before (count_above_cut 0) and with the defaults, scored
    by pyannote.metrics: the rule study above emulates the count; this checks the shipped code."""
    before = scores(evaluator, dataclasses.replace(EmbeddedParams(), count_above_cut=0))
    after = scores(evaluator, EmbeddedParams())
    print(f"\n## {label}, pyannote.metrics: count_above_cut 0 (before) vs the defaults ({describe(EmbeddedParams())})")
    for line in table({"before": before, "after": after}):
        print(line)
    print("per file, DER c0.25 no-ovl and found/true, before → after")
    for name in before:
        b, a = before[name], after[name]
        der_b, der_a = (r[0.25, True][0] / max(r[0.25, True][1], 1e-9) for r in (b, a))
        mark = "" if b["found"] == a["found"] else "  *"
        print(f"  {name:28s} {der_b:.3f} {b['found']}/{b['speakers']} → {der_a:.3f} {a['found']}/{a['speakers']}{mark}")
