"""Cross-validated choice of the embedded diarizer's parameters, on simulated conversations and the shared files.

Usage: .venv/bin/python bench/diarization_cv.py [--sim build/diarization_sim] [--folds 4] [--passes 1]
       .venv/bin/python bench/diarization_cv.py --count [--holdout build/diarization_sim_1818]

--count cross-validates only the speaker-count rule (everything else at the defaults) and scores the
choices on an unseen set written by bench/diarization_sim.py --seed 1818 --per-group 6 --out DIR.

In process only (no fleet). The set is the generated conversations of bench/diarization_sim.py (1-4
speakers; written first if --sim holds none) plus the two annotated real files. Conversations are split
into --folds folds, stratified by group; each fold's parameters are chosen on the other folds by block
coordinate descent on DER (collar 0.25 s, overlap excluded) pooled per group (1-4 speakers, real) and
averaged over groups, and scored on that fold. The
parameters chosen on the whole set are then scored against the current defaults with pyannote.metrics:
DER at collar 0 and 0.25 with overlap scored and excluded, and the speaker-count error per group.

Embeddings depend only on the file and the hop, and VAD only on its options, so both are cached
(embeddings on disk, in build/diarization_cv_cache/); a clustering configuration costs milliseconds a file.
"""

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

from faster_whisper.vad import VadOptions

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import diarization_sim as sim
from bench.diarization_count import count_study
from bench.diarization_eval import Evaluator, Item, assign_folds, balanced, describe, load_items, pooled, scores, table
from services.asr.diarization.embedded import EmbeddedParams

warnings.filterwarnings("ignore")

# The search space: each block is searched jointly, the others held fixed.
BLOCKS: dict[str, list[dict]] = {
    "vad": [{"vad": VadOptions(threshold=0.5, min_silence_duration_ms=300, speech_pad_ms=p)} for p in (100, 200, 300)],
    "windows": [{"hop_s": h, "min_window_speech": w} for h in (0.5, 0.75) for w in (0.3, 0.5, 0.7, 0.9)],
    "count": [
        {"distance_threshold": t, "min_cluster_s": m}
        for t in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
        for m in (1.0, 2.0, 4.0, 6.0)
    ],
    "fill": [{"fill_gap_s": g} for g in (0.5, 1.0, 2.0, 3.0)],
}


def search(evaluator: Evaluator, names: list[str], passes: int, log=None) -> EmbeddedParams:
    """Block coordinate descent from the current defaults on the group-balanced DER over `names`."""
    params = EmbeddedParams()
    best = balanced(evaluator, evaluator.evaluate(params), names)
    for _ in range(passes):
        changed = False
        for block, options in BLOCKS.items():
            for option in options:
                candidate = dataclasses.replace(params, **option)
                der = balanced(evaluator, evaluator.evaluate(candidate), names)
                if der < best - 1e-6:
                    params, best, changed = candidate, der, True
            if log:
                log(f"  {block}: {best:.4f}")
        if not changed:
            break
    return params


def held_out_search(evaluator: Evaluator, folds: int, passes: int) -> None:
    """Each fold scored with the parameters searched on the other folds, against the defaults; pooled after."""
    items = evaluator.items
    fold_of = assign_folds(items, folds)
    held_out: dict[str, tuple[float, float, int]] = {}
    print("\n| fold | files | held-out DER c0.25 no-ovl (chosen) | same files, defaults | chosen on the other folds |")
    print("|---|---|---|---|---|")
    for fold in range(folds):
        train = [i.name for i in items if fold_of[i.name] != fold]
        test = [i.name for i in items if fold_of[i.name] == fold]
        params = search(evaluator, train, passes, log=lambda m: print(m, file=sys.stderr, flush=True))
        results = evaluator.evaluate(params)
        held_out.update({n: results[n] for n in test})
        default_der = pooled(evaluator.evaluate(EmbeddedParams()), test)
        print(f"| {fold} | {len(test)} | {pooled(results, test):.3f} | {default_der:.3f} | {describe(params)} |")
    names = [i.name for i in items]
    sim_names = [i.name for i in items if i.group in ("2", "3", "4")]
    print(
        f"\nheld-out pooled DER (c0.25 no-ovl): all {pooled(held_out, names):.3f}, "
        f"sim 2-4 {pooled(held_out, sim_names):.3f}; "
        f"defaults: all {pooled(evaluator.evaluate(EmbeddedParams()), names):.3f}, "
        f"sim 2-4 {pooled(evaluator.evaluate(EmbeddedParams()), sim_names):.3f}"
    )
    for group in sorted({i.group for i in items}):
        members = [i.name for i in items if i.group == group]
        print(f"  held-out group {group}: {pooled(held_out, members):.3f}")


def parameter_study(items: list[Item], folds: int, passes: int, started: float) -> None:
    """The held-out search, then the parameters chosen on the whole set against the defaults."""
    evaluator = Evaluator(items)
    print(f"{len(items)} files, {sum(i.audio.size for i in items) / 16_000 / 60:.1f} min; {folds} folds")
    held_out_search(evaluator, folds, passes)
    final = search(evaluator, [i.name for i in items], passes, log=print)
    print(f"\nchosen on the whole set: {describe(final)}")
    print(f"configurations evaluated: {len(evaluator.results)}; {time.perf_counter() - started:.0f} s so far\n")
    for line in table({"defaults": scores(evaluator, EmbeddedParams()), "chosen": scores(evaluator, final)}):
        print(line)
    print("\nper file (c0.25 no-ovl frame DER, found/true): defaults → chosen")
    before, after = evaluator.evaluate(EmbeddedParams()), evaluator.evaluate(final)
    for item in items:
        b, a = before[item.name], after[item.name]
        print(f"  {item.name:32s} {b[0] / b[1]:.3f} {b[2]}/{item.speakers} → {a[0] / a[1]:.3f} {a[2]}/{item.speakers}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", type=Path, default=sim.OUT)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--count", action="store_true", help="cross-validate speaker-count rules instead")
    parser.add_argument("--holdout", type=Path, default=None, help="with --count: an unseen set, scored at the end")
    args = parser.parse_args()
    started = time.perf_counter()
    items = load_items(args.sim)
    if args.count:
        if args.holdout and not (args.holdout / "index.json").exists():
            parser.error(f"no set in {args.holdout}: write it with bench/diarization_sim.py --out {args.holdout}")
        count_study(items, load_items(args.holdout, real=False) if args.holdout else [], args.folds)
        return
    parameter_study(items, args.folds, args.passes, started)


if __name__ == "__main__":
    main()
